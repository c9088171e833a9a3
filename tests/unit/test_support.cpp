#include "test_support.hpp"

#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

namespace carbon::test {

TempDir::TempDir() {
    // create_directory fails on a name that exists, so a fresh random name is ours alone.
    std::random_device seed;
    std::mt19937_64 random(seed());
    for (int attempt = 0; attempt < 100; ++attempt) {
        char name[32];
        std::snprintf(name, sizeof name, "carbon-test-%012llx",
                      static_cast<unsigned long long>(random() & 0xffffffffffffULL));
        const auto candidate = std::filesystem::temp_directory_path() / name;
        if (std::filesystem::create_directory(candidate)) {
            path_ = candidate;
            return;
        }
    }
    throw std::runtime_error("cannot create a temp directory");
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
}

void write_file(const std::filesystem::path& path, const std::string& content) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

static const char* kSmallSiYaml =
    "wso2.carbon:\n"
    "  id: wso2-si\n"
    "  name: WSO2 Streaming Integrator\n"
    "  ports:\n"
    "      # port offset\n"
    "    offset: 0\n"
    "wso2.transport.http:\n"
    "  listenerConfigurations:\n"
    "    -\n"
    "      id: \"default\"\n"
    "      port: 9090\n"
    "    -\n"
    "      id: \"msf4j-https\"\n"
    "      port: 9443\n"
    "siddhi.stores.query.api:\n"
    "  listenerConfigurations:\n"
    "    -\n"
    "      id: \"default\"\n"
    "      port: 7070\n"
    "    -\n"
    "      id: \"msf4j-https\"\n"
    "      port: 7443\n"
    "databridge.config:\n"
    "  dataReceivers:\n"
    "  -\n"
    "    dataReceiver:\n"
    "      type: Thrift\n"
    "      properties:\n"
    "        tcpPort: '7611'\n"
    "        sslPort: '7711'\n"
    "  -\n"
    "    dataReceiver:\n"
    "      type: Binary\n"
    "      properties:\n"
    "        tcpPort: '9611'\n"
    "        sslPort: '9711'\n";

void make_home(const std::filesystem::path& home, const std::string& runtime) {
    const std::string script = runtime == "api-manager"            ? "bin/api-manager.sh"
                               : runtime == "streaming-integrator" ? "bin/server.sh"
                                                                   : "bin/tooling.sh";
    write_file(home / script, "#!/bin/sh\n");
    if (runtime == "api-manager") {
        write_file(home / "repository/conf/deployment.toml",
                   "[server]\nhostname = \"localhost\"\n#offset=0\n");
    } else if (runtime == "streaming-integrator") {
        write_file(home / "conf/server/deployment.yaml", kSmallSiYaml);
    }
}

const RuntimeCatalog& source_catalog() {
    static const RuntimeCatalog catalog =
        RuntimeCatalog::load(std::filesystem::path(CARBON_SOURCE_DIR) / "profiles" / "runtimes");
    return catalog;
}

std::filesystem::path real_fixtures() {
    const std::filesystem::path dir = CARBON_REAL_FIXTURES;
    std::error_code ec;
    return std::filesystem::is_directory(dir, ec) ? dir : std::filesystem::path();
}

bool no_real_fixtures() {
    return real_fixtures().empty();
}

}  // namespace carbon::test

// Fakes of the supervision core's OS seam (RunHost, ProcessGroup) for unit tests: a fake host
// hands out fake process groups whose "output" is a pipe the test writes into; nothing runs.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "supervision/run_host.hpp"
#include "supervision/spawn.hpp"

namespace carbon::test {

/// What a test sees of one fake run, after the instance has taken (and maybe dropped) its group.
struct FakeRun {
    std::string name;  // the instance's
    int pid = 0;
    bool alive = true;
    int stop_requests = 0;
    int kills = 0;
    int dump_requests = 0;
    int output_fd = -1;  // the write end: what the "start script" prints
    // What the instance armed through ProcessGroup::watch (the Windows-style exit report).
    std::function<void(ExitStatus)> on_main_exit;
    void print(const std::string& text) const {
        REQUIRE(::write(output_fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    }
    /// The whole group ends (script and JVM), reported as a watched group reports it.
    void exit(ExitStatus status) {
        alive = false;
        close_output();
        if (auto report = std::move(on_main_exit)) {
            report(status);
        }
    }
    void close_output() {
        if (output_fd >= 0) {
            ::close(output_fd);
            output_fd = -1;
        }
    }
};

class FakeGroup final : public ProcessGroup {
  public:
    FakeGroup(std::shared_ptr<FakeRun> run, int read_fd)
        : run_(std::move(run)), read_fd_(read_fd) {}
    ~FakeGroup() override {
        if (read_fd_ >= 0) {
            ::close(read_fd_);
        }
    }
    int pid() const override { return run_->pid; }
    std::unique_ptr<OutputPipe> take_output(boost::asio::io_context& io) override {
        auto pipe = std::make_unique<OutputPipe>(io, read_fd_);
        read_fd_ = -1;
        return pipe;
    }
    void watch(std::function<void(ExitStatus)> main_exited, std::function<void()>) override {
        run_->on_main_exit = std::move(main_exited);
    }
    std::string request_stop() override {
        ++run_->stop_requests;
        return "SIGTERM to fake group " + std::to_string(run_->pid);
    }
    std::string kill() override {
        ++run_->kills;
        return "SIGKILL to fake group " + std::to_string(run_->pid);
    }
    std::optional<std::string> request_thread_dump(int jvm_pid) override {
        ++run_->dump_requests;
        return "SIGQUIT to fake JVM " + std::to_string(jvm_pid);
    }
    bool alive() const override { return run_->alive; }
    bool contains(int pid) const override { return pid == run_->pid; }
    std::string describe() const override { return "fake group " + std::to_string(run_->pid); }
    std::filesystem::path cgroup_directory() const override { return {}; }

  private:
    std::shared_ptr<FakeRun> run_;
    int read_fd_;
};

class FakeHost final : public RunHost {
  public:
    std::optional<StartRefusal> refusal;
    std::vector<std::shared_ptr<FakeRun>> runs;

    std::optional<StartRefusal> refuse_start(const Profile&, int) override { return refusal; }
    std::unique_ptr<ProcessGroup> spawn(boost::asio::io_context&, const Profile& profile,
                                        int) override {
        // One instance never has two groups at once: its previous run must be gone.
        if (const auto previous = last_run_of(profile.name)) {
            REQUIRE_FALSE(previous->alive);
        }
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        auto run = std::make_shared<FakeRun>();
        run->name = profile.name;
        run->pid = 1000 + static_cast<int>(runs.size());
        run->output_fd = fds[1];
        runs.push_back(run);
        return std::make_unique<FakeGroup>(run, fds[0]);
    }
    /// The latest run of instance `name`, or nullptr.
    std::shared_ptr<FakeRun> last_run_of(const std::string& name) const {
        for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
            if ((*it)->name == name) {
                return *it;
            }
        }
        return nullptr;
    }
    ~FakeHost() override {
        for (auto& run : runs) {
            run->close_output();
        }
    }
};

}  // namespace carbon::test

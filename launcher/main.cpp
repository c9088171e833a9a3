#include "cli/commands.hpp"

int main(int argc, char** argv) {
    return carbon::run_cli(argc, argv);
}

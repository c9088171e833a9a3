"""What every benchmark's profiles share: `run` checks the host first (carbon-launcher check),
so the lightweight stand-in JVMs get a simulated JDK and the small heap they really use; they
open no port, so the runtime's health probes (a TCP startup probe, an HTTPS readiness probe)
are off and the startup line alone makes them Running."""
import pathlib

SIM_JDK_VERSION = "17.0.12"


def lightweight(root, profile):
    """`profile` with a simulated JDK under `root`, a 64 MiB heap and no health probes, unless it
    sets its own."""
    jdk = pathlib.Path(root) / "jdk"
    (jdk / "bin").mkdir(parents=True, exist_ok=True)
    (jdk / "release").write_text(f'JAVA_VERSION="{SIM_JDK_VERSION}"\n')
    env = {"JAVA_OPTS": "-Xmx64m", **profile.get("env", {})}
    no_probes = {"startup": "off", "readiness": "off", "liveness": "off"}
    return {"java_home": str(jdk), "health": no_probes, **profile, "env": env}

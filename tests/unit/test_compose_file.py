"""docker-compose.yml runs the production stack (no Docker engine here: parse and check it)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services_are_kafka_postgres_and_the_three_ledger_processes() -> None:
    services = compose()["services"]
    assert set(services) == {"kafka", "postgres", "api", "relay", "projector"}
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["api"]["command"][0] == "serve"
    assert services["relay"]["command"] == ["relay"]
    assert services["projector"]["command"][:3] == ["project", "--source", "kafka"]


def test_kafka_is_kraft_single_node_with_infinite_retention() -> None:
    env = compose()["services"]["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_LOG_RETENTION_MS"] == "-1"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"  # the relay creates the topic


def test_ledger_processes_share_one_image_and_are_wired_to_kafka_and_postgres() -> None:
    services = compose()["services"]
    for name in ("api", "relay", "projector"):
        service = services[name]
        assert service["build"] == "." and service["image"] == "behavior-ledger:latest"
        env = service["environment"]
        assert env["LEDGER_EVENT_STORE"].startswith("postgresql://")
        assert env["LEDGER_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert env["LEDGER_KAFKA_TOPIC"] == "ledger.events"
        assert "LEDGER_OPERATOR_TOKEN" in env
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert service["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in ("kafka", "postgres", "api", "relay", "projector"):
        assert services[name]["healthcheck"]["test"]


def test_kafka_keeps_its_log_on_the_volume() -> None:
    kafka = compose()["services"]["kafka"]
    mounted = [v.split(":")[1] for v in kafka["volumes"]]
    assert kafka["environment"]["KAFKA_LOG_DIRS"] in mounted


def test_no_password_is_written_in_the_file() -> None:
    services = compose()["services"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${")
    for name in ("api", "relay", "projector"):
        url = services[name]["environment"]["LEDGER_EVENT_STORE"]
        assert ":${POSTGRES_PASSWORD" in url
    assert "-h 127.0.0.1" in services["postgres"]["healthcheck"]["test"][1]


def test_relay_and_projector_have_health_checks_on_their_metrics_port() -> None:
    services = compose()["services"]
    for name in ("relay", "projector"):
        service = services[name]
        port = service["environment"]["LEDGER_METRICS_PORT"]
        assert f"127.0.0.1:{port}/healthz" in " ".join(service["healthcheck"]["test"])
        assert service["environment"]["LEDGER_LOG_FORMAT"] == "json"


def test_each_duckdb_writer_has_its_own_volume() -> None:
    services = compose()["services"]
    assert services["api"]["volumes"] != services["projector"]["volumes"]


def test_dockerfile_installs_the_project_and_runs_the_ledger_cli() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install" in dockerfile and 'ENTRYPOINT ["ledger"]' in dockerfile

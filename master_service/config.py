"""The master's settings, each with its unit and default."""

from security import token_setting
from settings import Setting, load_settings, port_number, positive_float, positive_int

MASTER_SETTINGS = (
    Setting("MASTER_HOST", str, "0.0.0.0", "address to listen on"),
    Setting("MASTER_PORT", port_number, 5000, "port to listen on"),
    Setting("RESULTS_DIR", str, "processed_results", "folder for results"),
    Setting("SLAVE_TIMEOUT", positive_float, 45.0, "seconds per request to a slave"),
    Setting(
        "HEARTBEAT_TIMEOUT",
        positive_float,
        15.0,
        "seconds without a heartbeat before a slave counts as down",
    ),
    Setting("MAX_ATTEMPTS", positive_int, 3, "slaves tried per file before giving up"),
    Setting("MAX_UPLOAD_MB", positive_int, 1024, "largest upload, in megabytes"),
    Setting("MAX_FILES", positive_int, 5000, "most files in one request"),
    Setting("MASTER_THREADS", positive_int, 32, "requests served at once"),
    Setting(
        "CLUSTER_TOKEN",
        token_setting,
        None,
        "secret shared with every slave; unset: only slaves on this machine can join",
        secret=True,
    ),
    Setting(
        "API_TOKEN",
        token_setting,
        None,
        "secret clients send as `Authorization: Bearer <token>`; unset: uploads are "
        "open to anyone who can reach the master",
        secret=True,
    ),
    Setting("LOG_LEVEL", str.upper, "INFO", "logging level"),
)


def load_master_config(overrides=None) -> dict:
    return load_settings(MASTER_SETTINGS, overrides)

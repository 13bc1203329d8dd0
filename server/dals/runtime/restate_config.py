"""The embedded Restate server's config file: loopback only, telemetry off, data in the state dir,
requests to the worker signed with the state dir's key (see signing.py)."""
from __future__ import annotations

from ..settings import restate_partitions_setting
from . import signing
from .layout import Layout, Ports


def render(layout: Layout, ports: Ports) -> str:
    # DALS_RESTATE_PARTITIONS, 1 by default: on one machine every task's steps then go to one log
    # and one partition processor, so Restate commits more of them together. Restate reads the
    # count only when it creates the data dir: an existing one keeps its partitions.
    partitions, _ = restate_partitions_setting()
    return f"""# Written by dals on every start; edit DALS settings, not this file.
cluster-name = "dals"
node-name = "dals-local"
base-dir = "{layout.restate_data}"
bind-address = "127.0.0.1:{ports.node}"
advertised-address = "http://127.0.0.1:{ports.node}/"
disable-telemetry = true
default-num-partitions = {partitions}
rocksdb-total-memory-size = "512 MiB"
log-format = "compact"
log-disable-ansi-codes = true

[admin]
bind-address = "127.0.0.1:{ports.admin}"

[admin.query-engine]
memory-size = "128 MiB"

[ingress]
bind-address = "127.0.0.1:{ports.ingress}"
advertised-ingress-endpoint = "http://127.0.0.1:{ports.ingress}/"

[worker.invoker]
request-identity-private-key-pem-file = "{signing.ensure_key(layout.root)}"
"""


def write(layout: Layout, ports: Ports) -> None:
    layout.restate_config.write_text(render(layout, ports))

"""What lives in the state dir on this machine and is shared by its processes: the sockets that
reach Restate (`endpoints.py`), process liveness (`pids.py`), event wake-ups, the editor presence
registry and cancel marks."""

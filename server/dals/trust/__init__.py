"""Who may act as the user: the client key that signs every input that acts on a task, and the
check the worker makes before it acts (docs/security.md)."""

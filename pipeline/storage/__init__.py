"""What is kept: the ledger (SQLite: arrivals, values, the event log, its migrations), which file counts
(supersession), crash-safe writes and publishing, the batch lock and the program's own log, and the session
(session.py) that every command and the watcher open them through."""

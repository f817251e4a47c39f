"""Files in: which are there and whose, whether complete, judged, archived, recorded and answered with a receipt
-- the same for `ingest`, `watch`, `fetch` (the bureau's mailbox) and the demo; a unit's history and void; the
working folder's layout."""

"""The floor every room stands on: the settings (config.toml and its model), months, moments, working days and
deadlines (deadlines.py: due dates and the four states every obligation shares), how a received time was
found (received_rules.py), the Annex 2 form's one description (form.py) and the cell normalizer, the issue catalogue, safe names, file kinds
by suffix, text layout for Chinese. Nothing here touches the ledger, a unit's bytes or the terminal."""

"""annex2: collect, check and merge the monthly Annex 2 safety-statistics workbooks.

The library's public face, for a script that wants what `annex2 validate` and `annex2 ingest` know:

    from pipeline import check_files
    from pipeline.core.config import load
    report = check_files(paths, load(path_of_config_toml), now)   # report.ok, report.files, report.to_dict()

`check_files` (intake/check.py), `Ledger` (storage/ledger.py) and the report types (intake/report.py) are
imported on first use (PEP 562), so that `annex2 --help` starts no slower for them."""
__version__ = "0.1.0"

_EXPORTS = {
    "check_files": "pipeline.intake.check",
    "Ledger": "pipeline.storage.ledger",
    **{name: "pipeline.intake.report" for name in ("Report", "FileReport", "IgnoredFile", "BatchResult",
                                                   "FileResult", "Waiting", "FetchResult")},
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value  # the next look-up is a plain attribute
    return value

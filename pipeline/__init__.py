"""annex2: collect, check and merge the monthly Annex 2 safety-statistics workbooks."""
__version__ = "0.1.0"

"""The only room that parses the bytes a unit sent (workbooks, PDFs, images, Word and OLE files, e-mails):
the reader, the sandbox it runs in, read-ahead, readiness of a file still being written, locating the form on
a sheet, and what is made from a unit's bytes (the marked-up copy, the pages for the 材料汇编)."""

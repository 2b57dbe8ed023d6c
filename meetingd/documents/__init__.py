"""The work done on document bytes outside the event loop.

* :mod:`~meetingd.documents.check`: a PDF is parsed, measured, searched for active content,
  sanitised and its signatures validated (pikepdf, pypdfium2, pyHanko);
* :mod:`~meetingd.documents.watermark`: a viewer's copy of a confidential document with
  their name, unit and the time on every page;
* :mod:`~meetingd.documents.pool`: the process pool those run in, each job under a memory
  limit and a deadline, its worker killed and replaced when it overruns;
* :mod:`~meetingd.documents.convert`: office documents to PDF with LibreOffice headless.

These modules know no database and no transport; the documents service drives them.
"""

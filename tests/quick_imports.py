"""pytest plugin, loaded before the others (``-p tests.quick_imports`` in ``make test``): jsonschema is imported
without ``rfc3987_syntax``, as the notebook runner does (:func:`helpers.notebooks.quick_jsonschema`).

nbval imports nbformat, and with it jsonschema, when pytest loads its plugins; importing ``rfc3987_syntax`` there
costs about a second of CPU in the main process and again in every pytest-xdist worker.  Only a plugin loaded with
``-p`` runs early enough: ``conftest.py`` is read after nbval is imported.
"""

from helpers.notebooks import quick_jsonschema

with quick_jsonschema():
    import jsonschema  # noqa: F401

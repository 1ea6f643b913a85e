"""The service layer: booking messages, settling claims, period runs, corrections, queries, audit and what-if.

``bootstrap`` is the one composition root and the only importer of ``application`` (the
application object); the use cases (``ingest``, ``closing``, ``audit``, ``whatif``, the
``handlers`` and ``settling``) take the narrow collaborators of ``ports`` and ``unit_of_work``
instead, so the layer has no import cycle (``[tool.importlinter]`` keeps it so).
"""

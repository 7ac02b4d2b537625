"""HTTP inference server: upload a video or image, get the same report as
``localize analyze``, plus the analysts' viewer at ``/``.

Modules: ``config`` (settings), ``upload`` (streamed, capped, sniffed uploads),
``jobs`` (job store in the shared results folder + the bounded per-process pool),
``metrics`` (Prometheus text), ``auth`` (bearer token), ``app`` (routes, CLI).
"""

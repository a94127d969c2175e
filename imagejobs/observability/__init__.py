"""Prometheus metrics: the definitions and hooks (``metrics``), the multiprocess folder of a
worker host (``multiproc``), the queue-depth collector (``depth``), basic auth (``auth``) and the
worker host's ``/metrics`` endpoint (``server``). README "Metrics" lists every metric."""

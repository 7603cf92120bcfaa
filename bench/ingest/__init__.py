"""The pieces of ``bench/bench_ingest.py``: the processes it runs (``infra``), the storage
server (``s3_server``), the load generator (``loadgen``), the event stream reader
(``stream``), the figures (``measure``), the event folder (``event``), the uploader
(``uploader``), and what the server processes load (``server_settings``, ``trace``)."""

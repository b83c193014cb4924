"""`make bench`: the chassis' figures, each beside its raw baseline measured in the same run.

Runs on the embedded stack (real PostgreSQL and the Tansu broker on free ports), in one process:
relay events/s vs a raw aiokafka producer, projection rebuild events/s vs a raw asyncpg read + JSON
decode + COPY, and reaction (inbox) consume events/s vs a raw aiokafka consumer. Results go to
`bench/results/<timestamp>.json` and `bench/results/latest.json`.
"""

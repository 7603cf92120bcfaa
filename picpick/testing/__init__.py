"""Builders shared by the tests and the benchmarks: factories, scenes, the face bench set, S3.

Never imported by production code (the apps, settings, urls, tasks): it needs the development
dependencies (factory_boy, moto), which a production install leaves out. It lives inside the
``picpick`` package only so that ``tests/`` and ``bench/`` can both import it without one
importing the other.
"""

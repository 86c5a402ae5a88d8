"""Mutation testing of the engine (``nox -s mutation``): plant small bugs, run the tests that
guard each module, and report the bugs no test noticed.

``plan`` says what is mutated and which tests guard it, ``execute`` runs the mutants in
worker copies of the project (cosmic-ray applies each mutation on disk, so the subprocesses a
build starts run the mutated code too), ``report`` prints the score and the survivors.
"""

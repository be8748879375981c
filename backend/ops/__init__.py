"""Process tooling that runs outside Flask: memory readings, the gunicorn tree, worker lifecycle, the memory check.

Nothing here imports Flask or SQLAlchemy (a test enforces it), so ``check_memory.py`` and
``gunicorn.conf.py`` stay small and can run before, beside or without the app.
"""

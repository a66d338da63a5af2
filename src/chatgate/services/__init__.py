"""Use cases: the only code that combines domain, storage, engine and channels."""

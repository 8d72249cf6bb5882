//! Store unit tests: the domain rules straight on an in-memory database.

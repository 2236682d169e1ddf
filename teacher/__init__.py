"""Teachers' tools that are not part of the learners' ``helpers`` package (nbgrader course builder)."""

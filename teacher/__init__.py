"""The teacher's tools, apart from the learners' ``helpers``: class provisioning, dashboard, broker admin, nbgrader."""

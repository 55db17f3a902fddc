"""What a person looks at: every figure of the workflow (``plots``) and the report's front page
(``front_page``).

May import from every stage before it (``common`` to ``evaluation``)."""

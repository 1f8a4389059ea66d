"""Customer documents (invoice, credit note, payment receipt): Jinja2 templates rendered to HTML and PDF."""

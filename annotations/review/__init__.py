"""The historical-accuracy review: submit, approve, request changes, comments, notifications; API and review pages."""

"""The `policyqa` command line: the top layer, which nothing else imports."""

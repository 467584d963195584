"""`python -m policyqa …`: the same command as the `policyqa` script."""

from policyqa.cli import main

main()

"""`python -m policyqa …`: the same command as the `policyqa` script."""

from policyqa.cli import main

if __name__ == "__main__":  # not when multiprocessing re-imports it in a child as __mp_main__
    main()

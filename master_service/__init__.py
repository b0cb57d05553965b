"""The master: takes uploads, shares them among slaves, stores the results."""

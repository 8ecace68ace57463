"""Stand-in for the get-pip script that ansible-test downloads from a host this machine cannot reach.

ansible-test runs it inside a fresh virtual environment without pip, with get-pip's arguments
(`pip install` options, the pinned pip version, and get-pip's own --no-setuptools/--no-wheel).
Python's own ensurepip provides a first pip offline; that pip then installs exactly what
ansible-test asked for from the package index. The Makefile copies this file to
~/.ansible/test/cache/get_pip_<version>.py.
"""

import subprocess
import sys

GET_PIP_ONLY = {"--no-setuptools": "setuptools", "--no-wheel": "wheel"}


def main():
    args = sys.argv[1:]
    unwanted = [GET_PIP_ONLY[arg] for arg in args if arg in GET_PIP_ONLY]
    pip_args = [arg for arg in args if arg not in GET_PIP_ONLY]
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
    subprocess.check_call([sys.executable, "-m", "pip", "install", *pip_args])
    if unwanted:
        subprocess.check_call([sys.executable, "-m", "pip", "uninstall", "--yes", "--quiet", *unwanted])


if __name__ == "__main__":
    main()

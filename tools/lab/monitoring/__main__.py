"""PYTHONPATH=tools/lab python -m monitoring up|down|status [--lab-dir .lab] [--ksm PATH]"""

import argparse
import json
import sys

from . import MonitoringError, lab_down, lab_status, lab_up


def main(argv=None):
    parser = argparse.ArgumentParser(prog="monitoring", description="the lab's Prometheus, Alertmanager, "
                                     "node-exporter (and kube-state-metrics)")
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--lab-dir", default=".lab")
    parser.add_argument("--ksm", help="kube-state-metrics binary (skipped when missing)")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            stack = lab_up(args.lab_dir, kube_state_metrics_binary=args.ksm)
            print("monitoring: prometheus %s, alertmanager %s, jobs %s" % (
                stack.prometheus_url, stack.alertmanager_url, ", ".join(stack.jobs)))
            print("monitoring: verify variables in %s/verify-vars.yml" % stack.state_dir)
        elif args.command == "down":
            stopped = lab_down(args.lab_dir)
            print("monitoring: stopped %s" % (", ".join(stopped) or "nothing (not running)"))
        else:
            print(json.dumps(lab_status(args.lab_dir), indent=1))
    except MonitoringError as exc:
        print("monitoring: %s" % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/bin/sh
# The operations files: Prometheus alert rules (syntax, then the promtool
# unit tests of every alert) and the Grafana dashboard (valid JSON whose
# queries only use series walstar exports).
set -eu
cd "$(dirname "$0")/../ops"

promtool check rules prometheus/walstar-alerts.yml
(cd prometheus && promtool test rules tests/walstar-alerts-test.yml)

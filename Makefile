# The Makefile is the project's interface: every command the README and CI use is a target here.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Everything built or downloaded lives outside the checkout, keyed by content, so a fresh
# clone finds it warm.
CACHE ?= $(HOME)/.cache/homelab-observability
export LAB_CACHE := $(CACHE)
REQ_HASH := $(shell sha256sum requirements.txt | cut -c1-12)
VENV ?= $(CACHE)/venv-$(REQ_HASH)
PYTHON ?= python3
BIN := $(VENV)/bin
# The collection is the repository root; Ansible finds it through this link.
COLLECTIONS := $(CURDIR)/.build/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/homelab/observability
SANITY_ROOT := $(CURDIR)/.build/sanity/ansible_collections/homelab/observability
# The chart archives of charts.lock.yml come from this mirror directory when it exists (the offline
# copy beside the checkout), else `helm pull` fetches them from their repositories.
CHARTS_MIRROR ?= $(if $(wildcard $(CURDIR)/../shared/charts/*.tgz),$(abspath $(CURDIR)/../shared/charts),)
export LAB_CHARTS := $(CACHE)/charts
HELM3 := $(CACHE)/bin/helm-$(shell sed -n 's/^HELM3_VERSION=//p' tools/lab/versions.env)/helm
# The pip version ansible-test (of the pinned ansible-core) bootstraps into its venvs.
SANITY_PIP_VERSION := 24.2

export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export NO_COLOR := 1
# ansible-lint installs the collection under test into ANSIBLE_HOME; keep that copy in the checkout's
# build dir so a stale one from another checkout can never shadow this one.
export ANSIBLE_HOME := $(CURDIR)/.build/ansible-home
export ANSIBLE_NOCOLOR := 1

.PHONY: help venv deps collection-link test lint unit integration molecule lab lab-build lab-up lab-down \
        lab-status bench docs build sanity clean charts

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

# No prerequisite on requirements.txt: its hash is in the venv's path already, and a fresh
# clone's newer mtime must not trigger a reinstall.
$(VENV)/.installed:
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found; install Python 3.11+" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

venv: $(VENV)/.installed ## create the virtual environment with the pinned Python dependencies
	@echo "venv: $(VENV)"

collection-link:
	@mkdir -p $(dir $(COLLECTION_LINK))
	@ln -sfn $(CURDIR) $(COLLECTION_LINK)

test: lint unit integration molecule ## everything: lint, unit, integration (lab), molecule

lint: venv collection-link ## yamllint, ruff, ansible-lint (production), argument specs, changelog, antsibull-docs, galaxy-importer, ansible-test sanity
	$(BIN)/yamllint --strict .
	$(BIN)/ruff check .
	$(BIN)/python tools/check_argument_specs.py
	$(BIN)/python tools/gen_role_docs.py --check
	$(BIN)/python tools/check_versions.py
	$(BIN)/python tools/dashboards/generate.py --check
	$(BIN)/ansible-lint --profile production --offline
	$(MAKE) --no-print-directory changelog-lint
	$(MAKE) --no-print-directory docs-lint
	$(MAKE) --no-print-directory galaxy-importer
	$(MAKE) --no-print-directory sanity

.PHONY: changelog-lint
changelog-lint: venv ## antsibull-changelog: the fragments of changelogs/fragments and changelogs/changelog.yaml
	$(BIN)/antsibull-changelog lint
	$(BIN)/antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml

# Galaxy's importer with its default checks (ansible-doc, ansible-lint, changelog; ansible-test needs
# containers and runs as `make sanity` instead). It exits 0 on findings, so any WARNING or ERROR line fails.
.PHONY: galaxy-importer
galaxy-importer: venv ## galaxy-importer on the built tarball; fails on any finding
	@rm -rf .build/importer && mkdir -p .build/importer
	$(BIN)/ansible-galaxy collection build --force --output-path .build/importer >/dev/null
	cd .build/importer && GALAXY_IMPORTER_RUN_ANSIBLE_TEST=false GALAXY_IMPORTER_CHECK_CHANGELOG=true \
	  $(BIN)/python -m galaxy_importer.main *.tar.gz 2>&1 | tee importer.log
	@! grep -E '^(WARNING|ERROR)' .build/importer/importer.log || { echo "galaxy-importer: the findings above" >&2; exit 1; }

sanity: venv ## ansible-test sanity on a copy of the collection under ansible_collections/homelab/observability
	@rm -rf $(SANITY_ROOT) && mkdir -p $(SANITY_ROOT)
	@# The copy holds what a release ships (galaxy.yml build_ignore): tests, tools and CI are linted by ruff.
	@git ls-files -z --cached --others --exclude-standard | grep -zvE '^(tools|tests|molecule|\.ci|\.config)/' \
	  | xargs -0 -r cp --parents -t $(SANITY_ROOT)/
	@# ansible-test bootstraps pip in its venvs with a script from a host we cannot reach; give it ours.
	@mkdir -p $(HOME)/.ansible/test/cache && \
	  cp tools/sanity/get_pip_bootstrap.py $(HOME)/.ansible/test/cache/get_pip_$(subst .,_,$(SANITY_PIP_VERSION)).py
	cd $(SANITY_ROOT) && git init -q && git add -A && \
	  $(BIN)/ansible-test sanity --python $$($(BIN)/python -c 'import sys;print("%d.%d"%sys.version_info[:2])') \
	  --venv --requirements --color no

unit: venv collection-link deps ## pure-logic tests on fixtures (and the lab monitoring configs checked by Debian's promtool and amtool)
	$(BIN)/pytest -q tests/unit

lab-build: ## build or reuse the lab binaries (pinned in tools/lab/versions.env)
	bash tools/lab/build.sh all

deps: ## Debian packages the tests run for real (Prometheus, promtool, Alertmanager, node-exporter; containerd, runc, CNI plugins, iptables for real nodes)
	bash tools/install-debian-deps.sh

charts: venv ## the chart archives pinned in charts.lock.yml, into $(CACHE)/charts (CHARTS_MIRROR=dir, else helm pull)
	$(BIN)/python tools/charts.py fetch --dest $(LAB_CHARTS) --mirror "$(CHARTS_MIRROR)" \
	  $(if $(wildcard $(HELM3)),--helm $(HELM3),)

integration: venv collection-link lab-build deps charts ## tests against the lab control plane and real binaries
	$(BIN)/pytest -q tests/promtool tests/integration

# In name order: apiserver_audit (a chroot host, about a minute) before stack (the lab; it needs the lab
# binaries and the chart archives). Each scenario's wall time is printed, and all of them at the end.
molecule: venv collection-link lab-build deps charts ## molecule scenarios: apiserver_audit (a real host root), stack (on the lab)
	@scenarios=$$(ls molecule/*/molecule.yml 2>/dev/null | xargs -r -n1 dirname | xargs -r -n1 basename); \
	if [ -z "$$scenarios" ]; then echo "molecule: no scenarios exist yet: nothing ran"; exit 0; fi; \
	times=""; t_all=$$SECONDS; for s in $$scenarios; do \
	  t0=$$SECONDS; rc=0; $(BIN)/molecule test -s $$s || rc=$$?; \
	  times="$$times  $$s $$((SECONDS - t0))s$$( [ $$rc -eq 0 ] || echo " FAILED (rc $$rc)")"; \
	  echo "molecule: $$s took $$((SECONDS - t0))s"; \
	  [ $$rc -eq 0 ] || { echo "molecule:$$times" >&2; exit 1; }; \
	done; echo "molecule:$$times; $$((SECONDS - t_all))s in all"

lab-up: venv collection-link lab-build deps ## start the local control plane (state in .lab/, kubeconfig .lab/kubeconfig)
	$(BIN)/python tools/lab/lab.py up

lab-down: venv ## stop the lab processes this checkout started
	$(BIN)/python tools/lab/lab.py down

lab-status: venv ## show the lab processes, nodes and paths
	$(BIN)/python tools/lab/lab.py status

lab: export LAB_REAL_NODES ?= 1
lab-stack-build: ## build or reuse the images of the stack's components the lab runs on its real nodes
	bash tools/lab/build.sh stack

lab: lab-stack-build lab-up charts ## start the lab with a real node (LAB_REAL_NODES, default 1) and run the main job on it
	$(BIN)/python tools/lab/lab.py user-apps
	$(BIN)/ansible-playbook -i inventory/lab playbooks/site.yml

bench: venv collection-link lab-build deps charts ## benchmarks; prints tables (see docs/benchmarks.md)
	@if ls tests/bench/bench_*.py >/dev/null 2>&1; then \
	  for b in tests/bench/bench_*.py; do $(BIN)/python $$b; done; \
	else echo "bench: no benchmarks exist yet: nothing measured"; fi

DOCS_SITE := $(CURDIR)/.build/docs-site
docs: venv collection-link ## regenerate the role README tables; build the antsibull-docs site (offline) into .build/docs-site
	$(BIN)/python tools/gen_role_docs.py
	@rm -rf $(DOCS_SITE) && mkdir -p $(DOCS_SITE)/rst && chmod 700 $(DOCS_SITE)/rst
	$(BIN)/antsibull-docs --config-file tools/docs_site/antsibull-docs.cfg collection --use-current \
	  --cleanup everything --dest-dir $(DOCS_SITE)/rst homelab.observability
	cp tools/docs_site/index.rst $(DOCS_SITE)/rst/
	$(BIN)/sphinx-build -M html $(DOCS_SITE)/rst $(DOCS_SITE)/build -c tools/docs_site -W --keep-going -q
	@echo "docs: $(DOCS_SITE)/build/html/index.html"

.PHONY: docs-lint
docs-lint: venv collection-link ## antsibull-docs lint of the module and role documentation (markup, references)
	cd $(COLLECTION_LINK) && $(BIN)/antsibull-docs lint-collection-docs --plugin-docs .

build: venv ## build the collection tarball into .build/
	$(BIN)/ansible-galaxy collection build --force --output-path .build/

clean: ## remove build output in the checkout (not the cache)
	rm -rf .build .pytest_cache .ruff_cache

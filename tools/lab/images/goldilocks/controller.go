package main

import (
	"log"
	"net/http"
	"strings"

	"lab.local/images/standin"
)

const enabledLabel = "goldilocks.fairwinds.com/enabled"

type meta struct {
	Name            string            `json:"name"`
	Namespace       string            `json:"namespace,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
	OwnerReferences []ownerRef        `json:"ownerReferences,omitempty"`
}

type ownerRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Controller bool   `json:"controller"`
}

// target is what the VPA of a workload points at: its controller when it has one (the StatefulSet
// of a Prometheus or an Alertmanager belongs to that object), as the real controller targets the
// topmost controller of each pod; the recommender refuses a target that has a controller.
func target(apiVersion, kind string, m meta) (string, string, string) {
	for _, o := range m.OwnerReferences {
		if o.Controller {
			return o.APIVersion, o.Kind, o.Name
		}
	}
	return apiVersion, kind, m.Name
}

type vpaList struct {
	Items []struct {
		Metadata meta
		Spec     struct {
			TargetRef struct{ APIVersion, Kind, Name string }
		}
	}
}

type controller struct {
	kube        *standin.Kube
	logger      *log.Logger
	onByDefault bool
	excluded    map[string]bool
}

func vpaPath(namespace string) string {
	if namespace == "" {
		return "/apis/autoscaling.k8s.io/v1/verticalpodautoscalers"
	}
	return "/apis/autoscaling.k8s.io/v1/namespaces/" + namespace + "/verticalpodautoscalers"
}

// covered says whether the controller manages namespace: the label decides, else the default.
func (c *controller) covered(namespace meta) bool {
	if c.excluded[namespace.Name] {
		return false
	}
	switch namespace.Labels[enabledLabel] {
	case "true":
		return true
	case "false":
		return false
	}
	return c.onByDefault
}

func (c *controller) reconcile() {
	var namespaces struct{ Items []struct{ Metadata meta } }
	if err := c.kube.Do(http.MethodGet, "/api/v1/namespaces", "", nil, &namespaces); err != nil {
		c.logger.Printf("list namespaces: %v", err)
		return
	}
	covered := map[string]bool{}
	for _, ns := range namespaces.Items {
		covered[ns.Metadata.Name] = c.covered(ns.Metadata)
	}
	want := map[string]string{} // namespace/kind/name of every VPA target -> its apiVersion
	for kind, path := range map[string]string{"Deployment": "/apis/apps/v1/deployments",
		"StatefulSet": "/apis/apps/v1/statefulsets"} {
		var list struct{ Items []struct{ Metadata meta } }
		if err := c.kube.Do(http.MethodGet, path, "", nil, &list); err != nil {
			c.logger.Printf("list %s: %v", path, err)
			return
		}
		for _, w := range list.Items {
			if covered[w.Metadata.Namespace] {
				apiVersion, k, name := target("apps/v1", kind, w.Metadata)
				want[w.Metadata.Namespace+"/"+k+"/"+name] = apiVersion
			}
		}
	}
	var have vpaList
	if err := c.kube.Do(http.MethodGet, vpaPath("")+"?labelSelector=source%3Dgoldilocks", "", nil, &have); err != nil {
		c.logger.Printf("list VPAs: %v", err)
		return
	}
	for _, v := range have.Items {
		key := v.Metadata.Namespace + "/" + v.Spec.TargetRef.Kind + "/" + v.Spec.TargetRef.Name
		if _, ok := want[key]; ok {
			delete(want, key)
			continue
		}
		// the workload is gone or its namespace is no longer covered, as the real controller deletes
		path := vpaPath(v.Metadata.Namespace) + "/" + v.Metadata.Name
		if err := c.kube.Do(http.MethodDelete, path, "", nil, nil); err != nil {
			c.logger.Printf("delete %s: %v", path, err)
		}
	}
	for key, apiVersion := range want {
		c.create(key, apiVersion)
	}
}

func (c *controller) create(key, apiVersion string) {
	parts := strings.SplitN(key, "/", 3)
	namespace, kind, name := parts[0], parts[1], parts[2]
	body := map[string]any{
		"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
		"metadata": meta{Name: "goldilocks-" + name, Namespace: namespace,
			Labels: map[string]string{"creator": "Fairwinds", "source": "goldilocks"}},
		"spec": map[string]any{
			"targetRef":    map[string]string{"apiVersion": apiVersion, "kind": kind, "name": name},
			"updatePolicy": map[string]string{"updateMode": "Off"},
		},
	}
	err := c.kube.Do(http.MethodPost, vpaPath(namespace), "", body, nil)
	if err != nil && !standin.IsStatus(err, http.StatusConflict) {
		c.logger.Printf("create the VPA of %s: %v", key, err)
		return
	}
	c.logger.Printf("VPA goldilocks-%s for %s %s/%s", name, kind, namespace, name)
}

// Command certgen is the lab's stand-in for kube-webhook-certgen (its module is not served by the
// Go module proxy), for kube-prometheus-stack's admission webhook Jobs. `create` stores a CA and
// a serving certificate for --host in the Secret --secret-name (keys ca, cert, key, unless the
// Secret exists); `patch` writes that CA into the caBundle of every webhook of the Mutating and
// ValidatingWebhookConfiguration --webhook-name, and --patch-failure-policy when given. Both exit
// when done, as the Jobs expect.
package main

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"lab.local/images/standin"
)

func main() {
	logger, args := standin.Start("kube-webhook-certgen")
	kube, err := standin.InCluster()
	if err == nil {
		if ns := args.Get("namespace", ""); ns != "" {
			kube.Namespace = ns
		}
		switch first(args.Positionals) {
		case "create":
			err = create(kube, args)
		case "patch":
			err = patch(kube, args)
		default:
			err = fmt.Errorf("usage: certgen create|patch [flags]")
		}
	}
	if err != nil {
		logger.Fatal(err)
	}
	logger.Print("done")
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func secretPath(kube *standin.Kube, args standin.Args) string {
	return "/api/v1/namespaces/" + kube.Namespace + "/secrets/" + args.Get("secret-name", "")
}

func create(kube *standin.Kube, args standin.Args) error {
	if err := kube.Do(http.MethodGet, secretPath(kube, args), "", nil, nil); err == nil {
		return nil // made by an earlier install: its CA is in the webhooks already
	} else if !standin.IsStatus(err, http.StatusNotFound) {
		return err
	}
	b, err := generate(strings.Split(args.Get("host", "localhost"), ","))
	if err != nil {
		return err
	}
	enc := base64.StdEncoding.EncodeToString
	secret := map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]string{"name": args.Get("secret-name", ""), "namespace": kube.Namespace},
		"data": map[string]string{args.Get("ca-name", "ca"): enc(b.ca), args.Get("cert-name", "cert"): enc(b.cert),
			args.Get("key-name", "key"): enc(b.key)}}
	return kube.Do(http.MethodPost, "/api/v1/namespaces/"+kube.Namespace+"/secrets", "", secret, nil)
}

func patch(kube *standin.Kube, args standin.Args) error {
	var secret struct{ Data map[string]string }
	if err := kube.Do(http.MethodGet, secretPath(kube, args), "", nil, &secret); err != nil {
		return err
	}
	ca := secret.Data[args.Get("ca-name", "ca")] // base64 already, as caBundle wants it
	policy := args.Get("patch-failure-policy", "")
	for kind, flag := range map[string]string{"mutatingwebhookconfigurations": "patch-mutating",
		"validatingwebhookconfigurations": "patch-validating"} {
		if args.Get(flag, "true") == "false" {
			continue
		}
		path := "/apis/admissionregistration.k8s.io/v1/" + kind + "/" + args.Get("webhook-name", "")
		var config map[string]any
		if err := kube.Do(http.MethodGet, path, "", nil, &config); err != nil {
			return err
		}
		hooks, _ := config["webhooks"].([]any)
		for _, h := range hooks {
			hook, _ := h.(map[string]any)
			if client, ok := hook["clientConfig"].(map[string]any); ok {
				client["caBundle"] = ca
			}
			if policy != "" {
				hook["failurePolicy"] = policy
			}
		}
		if err := kube.Do(http.MethodPut, path, "", config, nil); err != nil {
			return err
		}
	}
	return nil
}

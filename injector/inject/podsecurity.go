package inject

import "fmt"

// Pod Security Admission's enforce label: any level other than privileged rejects our privileged sidecar.
const psaEnforceLabel = "pod-security.kubernetes.io/enforce"

// podSecurityBlocks tells whether Pod Security admission would refuse the privileged sidecar in
// the namespace, and the warning saying so. The namespace's enforce label decides; without one
// the cluster's default (AdmissionConfiguration defaults.enforce, which the API does not expose:
// the injector's PSA_DEFAULT_LEVEL setting says it). Every level but privileged, at every
// enforce-version, forbids privileged containers, so the version does not change the answer.
func podSecurityBlocks(nsName string, nsLabels map[string]string, cfg *Settings) (bool, string) {
	lvl, labelled := nsLabels[psaEnforceLabel]
	if !labelled {
		lvl = cfg.PSADefaultLevel
	}
	if lvl == "" || lvl == "privileged" {
		return false, ""
	}
	v := nsLabels[psaEnforceLabel+"-version"]
	if v == "" {
		v = "latest"
	}
	if !labelled {
		return true, fmt.Sprintf(
			"procview: not injected: namespace %q has no %s label, so the cluster's default Pod Security level %q:%s applies (injector setting %s_PSA_DEFAULT_LEVEL), which rejects the privileged procview sidecar (label the namespace %s=privileged, or see deploy/README.md for the policy overlay)",
			nsName, psaEnforceLabel, lvl, v, EnvPrefix, psaEnforceLabel)
	}
	return true, fmt.Sprintf(
		"procview: not injected: namespace %q enforces Pod Security %q:%s, which rejects the privileged procview sidecar (label the namespace %s=privileged to allow it)",
		nsName, lvl, v, psaEnforceLabel)
}

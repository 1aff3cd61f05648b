package inject

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func rl(kv ...string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return l
}

func defaultWant() SidecarResources {
	return SidecarResources{CPURequest: resource.MustParse("10m"), MemRequest: resource.MustParse("16Mi"),
		MemLimit: resource.MustParse("32Mi"), CPULimitIfRequired: resource.MustParse("100m")}
}

// TestFitResources covers the rules the goldens do not: contradictions, scopes, no rules.
func TestFitResources(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app",
		Resources: corev1.ResourceRequirements{Requests: rl("cpu", "100m", "memory", "64Mi")}}}}}
	lr := func(items ...corev1.LimitRangeItem) Rules {
		return Rules{LimitRanges: []corev1.LimitRange{{ObjectMeta: metav1.ObjectMeta{Name: "lr"}, Spec: corev1.LimitRangeSpec{Limits: items}}}}
	}
	quota := func(spec corev1.ResourceQuotaSpec, used corev1.ResourceList) Rules {
		return Rules{Quotas: []corev1.ResourceQuota{{ObjectMeta: metav1.ObjectMeta{Name: "q"}, Spec: spec,
			Status: corev1.ResourceQuotaStatus{Hard: spec.Hard, Used: used}}}}
	}
	for _, tc := range []struct {
		name    string
		rules   Rules
		pod     *corev1.Pod
		want    corev1.ResourceRequirements
		errRule string // the rule the error names; "" means it fits
	}{
		{name: "no rules: no CPU limit", want: corev1.ResourceRequirements{
			Requests: rl("cpu", "10m", "memory", "16Mi"), Limits: rl("memory", "32Mi")}},
		{name: "min above another LimitRange's max",
			rules: Rules{LimitRanges: []corev1.LimitRange{
				{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer, Min: rl("memory", "64Mi")}}}},
				{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer, Max: rl("memory", "48Mi")}}}},
			}},
			errRule: "LimitRange a (Container) min"},
		{name: "ratio below 1", rules: lr(corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, MaxLimitRequestRatio: rl("cpu", "500m")}),
			errRule: "LimitRange lr (Container) maxLimitRequestRatio"},
		{name: "max lowers the memory limit", rules: lr(corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Max: rl("memory", "20Mi")}),
			want: corev1.ResourceRequirements{Requests: rl("cpu", "10m", "memory", "16Mi"), Limits: rl("memory", "20Mi")}},
		{name: "odd ratio rounds the request up", rules: lr(corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, MaxLimitRequestRatio: rl("cpu", "3", "memory", "1.5")}),
			want: corev1.ResourceRequirements{Requests: rl("cpu", "34m", "memory", "22369622"), Limits: rl("cpu", "100m", "memory", "32Mi")}},
		{name: "BestEffort quota does not apply", rules: quota(corev1.ResourceQuotaSpec{Hard: rl("limits.cpu", "1"), Scopes: []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort}}, nil),
			want: corev1.ResourceRequirements{Requests: rl("cpu", "10m", "memory", "16Mi"), Limits: rl("memory", "32Mi")}},
		{name: "priority-class quota of another class does not apply",
			rules: quota(corev1.ResourceQuotaSpec{Hard: rl("limits.cpu", "1"), ScopeSelector: &corev1.ScopeSelector{MatchExpressions: []corev1.ScopedResourceSelectorRequirement{
				{ScopeName: corev1.ResourceQuotaScopePriorityClass, Operator: corev1.ScopeSelectorOpIn, Values: []string{"high"}}}}}, nil),
			want: corev1.ResourceRequirements{Requests: rl("cpu", "10m", "memory", "16Mi"), Limits: rl("memory", "32Mi")}},
		{name: "pod that does not fit the quota anyway is not ours to judge", rules: quota(corev1.ResourceQuotaSpec{Hard: rl("requests.cpu", "100m")}, rl("requests.cpu", "50m")),
			want: corev1.ResourceRequirements{Requests: rl("cpu", "10m", "memory", "16Mi"), Limits: rl("memory", "32Mi")}},
		{name: "limits.memory quota full", rules: quota(corev1.ResourceQuotaSpec{Hard: rl("limits.memory", "1Gi")}, rl("limits.memory", "1000Mi")),
			pod:     &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Resources: corev1.ResourceRequirements{Limits: rl("memory", "20Mi")}}}}},
			errRule: "ResourceQuota q limits.memory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.pod
			if p == nil {
				p = pod
			}
			got, _, err := FitResources(defaultWant(), tc.rules, p)
			var re *RuleError
			if tc.errRule != "" {
				if !errors.As(err, &re) || !strings.HasPrefix(re.Rule, tc.errRule) {
					t.Fatalf("error %v, want one naming %q", err, tc.errRule)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range []struct{ got, want corev1.ResourceList }{{got.Requests, tc.want.Requests}, {got.Limits, tc.want.Limits}} {
				if len(l.got) != len(l.want) {
					t.Errorf("got %v, want %v", got, tc.want)
				}
				for k, v := range l.want {
					if g := l.got[k]; g.Cmp(v) != 0 {
						t.Errorf("%s: got %s, want %s", k, g.String(), v.String())
					}
				}
			}
		})
	}
}

package inject

import (
	"fmt"
	"math/big"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
)

// Rules are the namespace's objects that decide which requests and limits a container may have.
type Rules struct {
	Quotas      []corev1.ResourceQuota
	LimitRanges []corev1.LimitRange
}

// SidecarResources is what the pod and the injector's settings ask for the sidecar, before the
// namespace's rules are applied.
type SidecarResources struct {
	CPURequest, MemRequest, MemLimit resource.Quantity
	CPULimit                         *resource.Quantity // nil: no CPU limit (the default: a limit throttles every read of /proc)
	CPULimitIfRequired               resource.Quantity  // the CPU limit used where a rule requires one and no LimitRange default exists
	Pinned                           []string           // annotations the user set (their values are changed only with a warning)
}

// RuleError says which namespace rule no sidecar resources can satisfy.
type RuleError struct{ Rule, Problem string }

func (e *RuleError) Error() string { return e.Rule + ": " + e.Problem }

// fitted is one resource (cpu or memory) of the sidecar while it is being fitted.
type fitted struct {
	name     corev1.ResourceName
	req, lim *resource.Quantity // lim nil: none
	floor    resource.Quantity  // the sidecar's own minimum limit (16Mi memory), zero for cpu
	changes  []string
}

// FitResources returns the sidecar's requests and limits that satisfy the namespace's
// ResourceQuotas and LimitRanges for a pod (the pod as it is before the sidecar is added), with a
// warning per value the rules changed. The API server's rules, as its LimitRanger and
// ResourceQuota admission plugins apply them:
//   - a quota on limits.X (or requests.X, X) requires every container to set that limit (request);
//   - LimitRange (Container) min: request and limit at least min; max: a limit, at most max;
//     maxLimitRequestRatio: a limit, limit/request at most the ratio; default: the limit a
//     container without one gets (so the sidecar sets it itself, never below its request);
//   - LimitRange (Pod) max: the pod's sum of limits (and requests) at most max, every container
//     with a limit; maxLimitRequestRatio applies to the pod's sums;
//   - a quota's hard minus used must hold what the pod plus the sidecar add.
//
// Where nothing fits it returns a *RuleError naming the rule; the caller skips the pod.
func FitResources(want SidecarResources, rules Rules, pod *corev1.Pod) (corev1.ResourceRequirements, []string, error) {
	cpu := &fitted{name: corev1.ResourceCPU, req: ptr.To(want.CPURequest.DeepCopy())}
	if want.CPULimit != nil {
		cpu.lim = ptr.To(want.CPULimit.DeepCopy())
	}
	mem := &fitted{name: corev1.ResourceMemory, req: ptr.To(want.MemRequest.DeepCopy()),
		lim: ptr.To(want.MemLimit.DeepCopy()), floor: minSidecarMemory}

	for _, f := range []*fitted{cpu, mem} {
		ifRequired := want.CPULimitIfRequired
		if f.name == corev1.ResourceMemory {
			ifRequired = want.MemLimit
		}
		if err := f.fit(rules, pod, ifRequired); err != nil {
			return corev1.ResourceRequirements{}, nil, err
		}
	}
	res := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: *cpu.req, corev1.ResourceMemory: *mem.req},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: *mem.lim},
	}
	if cpu.lim != nil {
		res.Limits[corev1.ResourceCPU] = *cpu.lim
	}
	if err := checkQuotaRoom(rules.Quotas, pod, res); err != nil {
		return corev1.ResourceRequirements{}, nil, err
	}
	var warnings []string
	if changes := append(cpu.changes, mem.changes...); len(changes) > 0 {
		w := "procview: the sidecar's resources follow the namespace's rules: " + strings.Join(changes, "; ")
		if len(want.Pinned) > 0 {
			w += " (the pod's " + strings.Join(want.Pinned, ", ") + " asked otherwise)"
		}
		warnings = append(warnings, w)
	}
	return res, warnings, nil
}

// bound is one rule's value for one resource and the rule's name.
type bound struct {
	q    resource.Quantity
	rule string
}

// fit applies every rule for one resource, in the order that keeps the sidecar usable: a limit
// where one is required, min raises, max lowers, the ratio raises the request.
func (f *fitted) fit(rules Rules, pod *corev1.Pod, ifRequired resource.Quantity) error {
	var mins, maxs, ratios, defaults, podMaxs []bound
	needLimit := ""
	for _, lr := range rules.LimitRanges {
		for _, item := range lr.Spec.Limits {
			rule := fmt.Sprintf("LimitRange %s (%s)", lr.Name, item.Type)
			switch item.Type {
			case corev1.LimitTypeContainer:
				if q, ok := item.Min[f.name]; ok {
					mins = append(mins, bound{q, rule + " min"})
				}
				if q, ok := item.Max[f.name]; ok {
					maxs = append(maxs, bound{q, rule + " max"})
					needLimit = rule + " max"
				}
				if q, ok := item.MaxLimitRequestRatio[f.name]; ok {
					ratios = append(ratios, bound{q, rule + " maxLimitRequestRatio"})
					needLimit = rule + " maxLimitRequestRatio"
				}
				if q, ok := item.Default[f.name]; ok {
					defaults = append(defaults, bound{q, rule + " default"})
				}
			case corev1.LimitTypePod:
				if q, ok := item.Max[f.name]; ok {
					podMaxs = append(podMaxs, bound{q, rule + " max"})
					needLimit = rule + " max"
				}
				if q, ok := item.MaxLimitRequestRatio[f.name]; ok {
					// The sidecar's own ratio within the pod's keeps the pod's ratio of sums within it.
					ratios = append(ratios, bound{q, rule + " maxLimitRequestRatio"})
					needLimit = rule + " maxLimitRequestRatio"
				}
			}
		}
	}
	for _, q := range rules.Quotas {
		if !quotaApplies(q, pod) {
			continue
		}
		if _, ok := q.Spec.Hard[corev1.ResourceName("limits."+string(f.name))]; ok {
			needLimit = fmt.Sprintf("ResourceQuota %s limits.%s", q.Name, f.name)
		}
	}

	if f.lim == nil && len(defaults) > 0 {
		// The API server would give the sidecar this default; set it here so it is never below the request.
		f.setLim(defaults[0].q, defaults[0].rule)
	}
	if f.lim == nil && needLimit != "" {
		f.setLim(ifRequired, needLimit+" requires a limit")
	}
	for _, b := range mins {
		if f.req.Cmp(b.q) < 0 {
			f.setReq(b.q, b.rule)
		}
		if f.lim != nil && f.lim.Cmp(b.q) < 0 {
			f.setLim(b.q, b.rule)
		}
	}
	if f.lim != nil && f.lim.Cmp(*f.req) < 0 {
		f.setLim(*f.req, "not below its request")
	}
	for _, b := range maxs {
		if f.lim.Cmp(b.q) > 0 {
			f.setLim(b.q, b.rule)
		}
		if f.req.Cmp(b.q) > 0 {
			f.setReq(b.q, b.rule)
		}
	}
	for _, b := range ratios {
		if b.q.Cmp(resource.MustParse("1")) < 0 {
			return &RuleError{b.rule, fmt.Sprintf("%s %s is below 1: no request can satisfy it", f.name, b.q.String())}
		}
		if need := minRequestForRatio(f.name, *f.lim, b.q); f.req.Cmp(need) < 0 {
			f.setReq(need, b.rule+" "+b.q.String())
		}
	}
	// Check the result against every rule: two rules may contradict each other.
	for _, b := range mins {
		if f.req.Cmp(b.q) < 0 || (f.lim != nil && f.lim.Cmp(b.q) < 0) {
			return &RuleError{b.rule, fmt.Sprintf("%s min %s conflicts with another rule (request %s, limit %s)", f.name, b.q.String(), f.req.String(), qs(f.lim))}
		}
	}
	for _, b := range maxs {
		if f.lim.Cmp(b.q) > 0 || f.req.Cmp(b.q) > 0 {
			return &RuleError{b.rule, fmt.Sprintf("%s max %s conflicts with another rule (request %s, limit %s)", f.name, b.q.String(), f.req.String(), qs(f.lim))}
		}
	}
	if f.lim != nil && f.lim.Cmp(f.floor) < 0 {
		return &RuleError{f.limitRule(maxs), fmt.Sprintf("%s limit %s is below the sidecar's minimum of %s", f.name, f.lim.String(), f.floor.String())}
	}
	for _, b := range podMaxs {
		sum := podSum(pod, f.name, true)
		if sum == nil {
			return &RuleError{b.rule, fmt.Sprintf("a container of the pod has no %s limit", f.name)}
		}
		sum.Add(*f.lim)
		if sum.Cmp(b.q) > 0 {
			return &RuleError{b.rule, fmt.Sprintf("%s max %s per pod leaves no room for the sidecar's limit %s (the pod's containers with it: %s)",
				f.name, b.q.String(), f.lim.String(), sum.String())}
		}
	}
	return nil
}

// limitRule names the rule that set a limit too small: the smallest max, or the settings.
func (f *fitted) limitRule(maxs []bound) string {
	for _, b := range maxs {
		if f.lim.Cmp(b.q) == 0 {
			return b.rule
		}
	}
	return "the injector's settings"
}

func (f *fitted) setReq(q resource.Quantity, why string) {
	f.changes = append(f.changes, fmt.Sprintf("%s request %s → %s (%s)", f.name, f.req.String(), q.String(), why))
	f.req = ptr.To(q.DeepCopy())
}

func (f *fitted) setLim(q resource.Quantity, why string) {
	f.changes = append(f.changes, fmt.Sprintf("%s limit %s → %s (%s)", f.name, qs(f.lim), q.String(), why))
	f.lim = ptr.To(q.DeepCopy())
}

func qs(q *resource.Quantity) string {
	if q == nil {
		return "none"
	}
	return q.String()
}

// minRequestForRatio is the smallest request with limit/request <= ratio, rounded up to a
// millicore or a byte (the API server compares milli-values).
func minRequestForRatio(name corev1.ResourceName, lim, ratio resource.Quantity) resource.Quantity {
	n := new(big.Int).Mul(big.NewInt(lim.MilliValue()), big.NewInt(1000))
	d := big.NewInt(ratio.MilliValue())
	q, r := new(big.Int).QuoRem(n, d, new(big.Int)) // milli-units of the request
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	if name == corev1.ResourceCPU {
		return *resource.NewMilliQuantity(q.Int64(), resource.DecimalSI)
	}
	bytes, r := new(big.Int).QuoRem(q, big.NewInt(1000), new(big.Int))
	if r.Sign() > 0 {
		bytes.Add(bytes, big.NewInt(1))
	}
	return *resource.NewQuantity(bytes.Int64(), resource.BinarySI)
}

// podSum adds up the pod's containers' (and sidecar init containers') limits or requests of one
// resource; nil when one of them has none (limits only).
func podSum(pod *corev1.Pod, name corev1.ResourceName, limits bool) *resource.Quantity {
	sum := resource.Quantity{}
	for _, c := range runningContainers(pod) {
		l := c.Resources.Requests
		if limits {
			l = c.Resources.Limits
		}
		q, ok := l[name]
		if !ok && limits {
			return nil
		}
		sum.Add(q)
	}
	return &sum
}

// runningContainers are the containers that run side by side: app containers and native sidecars.
func runningContainers(pod *corev1.Pod) []corev1.Container {
	var cs []corev1.Container
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			cs = append(cs, c)
		}
	}
	return append(cs, pod.Spec.Containers...)
}

// quotaApplies tells whether a quota's scopes select the pod once injected (an injected pod is
// never BestEffort). Scopes it does not know apply: the sidecar then sets what they would need.
func quotaApplies(q corev1.ResourceQuota, pod *corev1.Pod) bool {
	terminating := pod.Spec.ActiveDeadlineSeconds != nil
	match := func(scope corev1.ResourceQuotaScope, op corev1.ScopeSelectorOperator, values []string) bool {
		switch scope {
		case corev1.ResourceQuotaScopeBestEffort:
			return false
		case corev1.ResourceQuotaScopeNotBestEffort:
			return true
		case corev1.ResourceQuotaScopeTerminating:
			return terminating
		case corev1.ResourceQuotaScopeNotTerminating:
			return !terminating
		case corev1.ResourceQuotaScopePriorityClass:
			pc := pod.Spec.PriorityClassName
			switch op {
			case corev1.ScopeSelectorOpIn:
				return slices.Contains(values, pc)
			case corev1.ScopeSelectorOpNotIn:
				return !slices.Contains(values, pc)
			case corev1.ScopeSelectorOpExists:
				return pc != ""
			case corev1.ScopeSelectorOpDoesNotExist:
				return pc == ""
			}
		}
		return true
	}
	for _, s := range q.Spec.Scopes {
		if !match(s, corev1.ScopeSelectorOpExists, nil) && s != corev1.ResourceQuotaScopePriorityClass {
			return false
		}
	}
	if q.Spec.ScopeSelector != nil {
		for _, e := range q.Spec.ScopeSelector.MatchExpressions {
			if !match(e.ScopeName, e.Operator, e.Values) {
				return false
			}
		}
	}
	return true
}

// checkQuotaRoom fails when a quota's hard minus its used has room for the pod but not for the
// pod with the sidecar (a pod that does not fit without the sidecar is not ours to judge).
func checkQuotaRoom(quotas []corev1.ResourceQuota, pod *corev1.Pod, sidecar corev1.ResourceRequirements) error {
	for _, q := range quotas {
		if !quotaApplies(q, pod) {
			continue
		}
		for key, hard := range q.Spec.Hard {
			name, limits, ok := quotaResource(key)
			if !ok {
				continue
			}
			used := q.Status.Used[key]
			podUse := podSum(pod, name, false)
			var add resource.Quantity
			if limits {
				podUse = podSum(pod, name, true)
				if podUse == nil {
					continue // the pod itself is rejected by this quota: not ours to judge
				}
				add = sidecar.Limits[name]
			} else {
				add = sidecar.Requests[name]
			}
			without := used.DeepCopy()
			without.Add(*podUse)
			with := without.DeepCopy()
			with.Add(add)
			if without.Cmp(hard) <= 0 && with.Cmp(hard) > 0 {
				return &RuleError{fmt.Sprintf("ResourceQuota %s %s", q.Name, key), fmt.Sprintf(
					"hard %s, used %s: room for the pod but not for the sidecar's %s", hard.String(), used.String(), add.String())}
			}
		}
	}
	return nil
}

// quotaResource maps a quota key to the container resource it counts.
func quotaResource(key corev1.ResourceName) (corev1.ResourceName, bool, bool) {
	switch key {
	case corev1.ResourceCPU, corev1.ResourceRequestsCPU:
		return corev1.ResourceCPU, false, true
	case corev1.ResourceMemory, corev1.ResourceRequestsMemory:
		return corev1.ResourceMemory, false, true
	case corev1.ResourceLimitsCPU:
		return corev1.ResourceCPU, true, true
	case corev1.ResourceLimitsMemory:
		return corev1.ResourceMemory, true, true
	}
	return "", false, false
}

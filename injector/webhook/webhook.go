// Package webhook serves inject.Inject as a controller-runtime mutating admission webhook for
// pods: the framework decodes the pod; this package builds the JSON patch from what the
// injector changed (patch.go) and adds the namespace lookup, the admission warnings, logs and
// Prometheus metrics.
package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/procview/procview/injector/inject"
	"github.com/procview/procview/injector/internal/promreg"
)

// Path is where the webhook is served; the MutatingWebhookConfiguration points here.
const Path = "/inject"

// Outcomes, the "result" label of the metrics.
const (
	ResultInjected = "injected"
	ResultSkipped  = "skipped"
	ResultRejected = "rejected" // invalid annotations: the pod was denied
	ResultError    = "error"    // the request could not be handled (e.g. not a pod)
)

// Metrics are the webhook's Prometheus metrics.
type Metrics struct {
	Pods    *prometheus.CounterVec   // procview_injector_pods_total{result,reason}
	Latency *prometheus.HistogramVec // procview_injector_admission_duration_seconds{result}
}

// NewMetrics creates the metrics and registers them with reg (e.g. controller-runtime's
// metrics.Registry), with every result/reason pair present from the start at zero.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Pods: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "procview_injector_pods_total",
			Help: "Pods seen by the procview injector, by result (injected, skipped, rejected, error) and skip reason.",
		}, []string{"result", "reason"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "procview_injector_admission_duration_seconds",
			Help:    "Time to answer one pod admission request, by result.",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1},
		}, []string{"result"}),
	}
	// A second server in one process (tests) shares the first one's collectors.
	var err error
	if m.Pods, err = promreg.Register(reg, m.Pods); err != nil {
		return nil, err
	}
	if m.Latency, err = promreg.Register(reg, m.Latency); err != nil {
		return nil, err
	}
	m.Pods.WithLabelValues(ResultInjected, "")
	m.Pods.WithLabelValues(ResultError, "")
	for _, r := range inject.SkipReasons {
		if r == inject.SkipInvalidAnnotation {
			m.Pods.WithLabelValues(ResultRejected, string(r))
		} else {
			m.Pods.WithLabelValues(ResultSkipped, string(r))
		}
	}
	return m, nil
}

// Injector is the typed defaulter for pods.
type Injector struct {
	Config     inject.Config
	Namespaces client.Reader // reads the pod's namespace (labels), e.g. a NamespaceReader
	Rules      RulesSource   // the namespace's ResourceQuotas and LimitRanges; nil: none are considered
	Metrics    *Metrics      // optional
}

// RulesSource reads a namespace's ResourceQuotas and LimitRanges (e.g. a RulesReader).
type RulesSource interface {
	Rules(ctx context.Context, ns *corev1.Namespace) (inject.Rules, error)
}

// outcome collects, per request, what Default decided; the handler wrapper reports it.
type outcome struct {
	mu       sync.Mutex
	warnings []string
	result   string
	reason   inject.SkipReason
}

type outcomeKey struct{}

// Webhook returns the admission webhook: controller-runtime's typed defaulter, with the patch
// built from what Default changed (patchFor) instead of marshalling the pod and diffing the two
// documents, which was most of an admission's CPU; a change patchFor does not know goes through
// controller-runtime's defaulter unchanged. Wrapped to return our warnings and record metrics.
func (i *Injector) Webhook(scheme *runtime.Scheme) *admission.Webhook {
	decoder := admission.NewDecoder(scheme)
	diffing := admission.WithDefaulter[*corev1.Pod](scheme, i).Handler
	wh := &admission.Webhook{Handler: admission.HandlerFunc(func(ctx context.Context, req admission.Request) admission.Response {
		start := time.Now()
		out := &outcome{result: ResultError}
		resp := i.handle(context.WithValue(ctx, outcomeKey{}, out), decoder, diffing, req)
		out.mu.Lock()
		defer out.mu.Unlock()
		if !resp.Allowed && out.result != ResultRejected {
			out.result = ResultError
		}
		if i.Metrics != nil {
			i.Metrics.Pods.WithLabelValues(out.result, string(out.reason)).Inc()
			i.Metrics.Latency.WithLabelValues(out.result).Observe(time.Since(start).Seconds())
		}
		return resp.WithWarnings(out.warnings...)
	})}
	return wh
}

// handle is controller-runtime's defaulter handler (decode, Default, patch) with patchFor's
// patch; when patchFor cannot express the change, the request is answered by diffing, which
// runs Default again on a fresh outcome.
func (i *Injector) handle(ctx context.Context, decoder admission.Decoder, diffing admission.Handler, req admission.Request) admission.Response {
	if req.Operation == admissionv1.Delete {
		return admission.Allowed("")
	}
	pod := &corev1.Pod{}
	if err := decoder.Decode(req, pod); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	// Default replaces *pod with inject.Inject's result, a deep copy: Inject never modifies its
	// input (its fuzz test checks), so a shallow copy keeps the submitted pod intact.
	submitted := *pod
	if err := i.Default(admission.NewContextWithRequest(ctx, req), pod); err != nil {
		var apiStatus apierrors.APIStatus
		if errors.As(err, &apiStatus) {
			return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{Allowed: false, Result: ptr.To(apiStatus.Status())}}
		}
		return admission.Denied(err.Error())
	}
	ops, ok := patchFor(&submitted, pod)
	if !ok {
		if out, _ := ctx.Value(outcomeKey{}).(*outcome); out != nil {
			out.mu.Lock()
			out.warnings, out.result, out.reason = nil, ResultError, ""
			out.mu.Unlock()
		}
		logf.FromContext(ctx).Info("the injector changed the pod beyond what its patch builder knows: diffing instead")
		return diffing.Handle(ctx, req)
	}
	if len(ops) == 0 {
		return admission.Allowed("")
	}
	patch, err := marshalPatch(ops)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("encode the patch: %w", err))
	}
	resp := admission.Allowed("")
	resp.Patch, resp.PatchType = patch, ptr.To(admissionv1.PatchTypeJSONPatch)
	return resp
}

// Default injects procview into the pod if it asks for it and can take it.
func (i *Injector) Default(ctx context.Context, pod *corev1.Pod) error {
	log := logf.FromContext(ctx)
	out, _ := ctx.Value(outcomeKey{}).(*outcome)
	if out == nil {
		out = &outcome{}
	}
	out.mu.Lock()
	defer out.mu.Unlock()

	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return fmt.Errorf("procview: no admission request in context: %w", err)
	}
	name := podName(pod, req)
	if req.Operation != admissionv1.Create {
		out.result, out.reason = ResultSkipped, inject.SkipNotCreate
		return nil
	}
	if pod.Annotations[inject.AnnotationInject] == "false" {
		out.result, out.reason = ResultSkipped, inject.SkipOptedOut
		return nil // opted out whatever the namespace says: no namespace lookup, no log line
	}
	// Every other pod needs its namespace: its procview.dev/inject label opts all its pods in
	// (or out), and its Pod Security level decides whether the privileged sidecar may be added.
	nsName := req.Namespace
	if nsName == "" {
		nsName = pod.Namespace
	}
	ns := inject.NamespaceInfo{Name: nsName}
	var nsObj corev1.Namespace
	if err := i.Namespaces.Get(ctx, client.ObjectKey{Name: nsName}, &nsObj); err != nil {
		// Injecting without knowing the namespace's Pod Security level could make the pod fail
		// admission; a pod without the view is the safer outcome. Only a pod that asked for the
		// view hears about it: the others may well not be meant to have it.
		out.result, out.reason = ResultSkipped, inject.SkipNamespaceUnknown
		if _, asked := pod.Annotations[inject.AnnotationInject]; asked {
			out.warnings = append(out.warnings, fmt.Sprintf("procview: not injected: cannot read namespace %q: %v", nsName, err))
		}
		log.Error(err, "namespace lookup failed, not injecting", "pod", name, "reason", out.reason)
		return nil
	}
	ns.Labels = nsObj.Labels
	if i.Rules != nil {
		rules, err := i.Rules.Rules(ctx, &nsObj)
		if err != nil {
			// Without the rules the sidecar could make the pod fail its quota or LimitRange.
			out.result, out.reason = ResultSkipped, inject.SkipRulesUnknown
			if _, asked := pod.Annotations[inject.AnnotationInject]; asked {
				out.warnings = append(out.warnings, fmt.Sprintf("procview: not injected: cannot read the ResourceQuotas and LimitRanges of namespace %q: %v", nsName, err))
			}
			log.Error(err, "rules lookup failed, not injecting", "pod", name, "reason", out.reason)
			return nil
		}
		ns.Rules = rules
	}

	res, err := inject.Inject(pod, ns, i.Config)
	out.warnings = append(out.warnings, res.Warnings...)
	var invalid *inject.InvalidAnnotationError
	switch {
	case errors.As(err, &invalid):
		out.result, out.reason = ResultRejected, inject.SkipInvalidAnnotation
		log.Info("pod rejected", "pod", name, "reason", res.Skip, "problems", invalid.Problems)
		return err
	case err != nil:
		return err
	case res.Skip != inject.NotSkipped:
		out.result, out.reason = ResultSkipped, res.Skip
		l := log
		if len(res.Warnings) == 0 && (res.Skip == inject.SkipNotOptedIn || res.Skip == inject.SkipNamespaceDisabled) {
			l = log.V(1) // most pods of a cluster: counted in the metrics, not logged by default
		}
		l.Info("pod skipped", "pod", name, "reason", res.Skip, "warnings", res.Warnings)
		return nil
	}
	out.result, out.reason = ResultInjected, ""
	*pod = *res.Pod
	log.Info("pod injected", "pod", name, "status", pod.Annotations[inject.AnnotationStatus], "warnings", res.Warnings)
	return nil
}

// podName names the pod for logs; a pod being created often has only generateName.
func podName(pod *corev1.Pod, req admission.Request) string {
	n := pod.Name
	if n == "" {
		n = pod.GenerateName + "*"
	}
	ns := req.Namespace
	if ns == "" {
		ns = pod.Namespace
	}
	return ns + "/" + n
}

var _ admission.Defaulter[*corev1.Pod] = (*Injector)(nil)

// Package webhook serves inject.Inject as a controller-runtime mutating admission webhook for
// pods: it decodes the pod, looks up its namespace, answers with inject.Patch, and adds the
// admission warnings, logs and Prometheus metrics.
package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
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

// Injector answers pod admission requests with inject.Inject's mutation as a JSON patch.
type Injector struct {
	Settings   *inject.Settings // the injector's parsed settings
	Namespaces client.Reader    // reads the pod's namespace (labels), e.g. a NamespaceReader
	Rules      RulesSource      // the namespace's ResourceQuotas and LimitRanges; nil: none are considered
	Metrics    *Metrics         // optional
}

// RulesSource reads a namespace's ResourceQuotas and LimitRanges (e.g. a RulesReader).
type RulesSource interface {
	Rules(ctx context.Context, ns *corev1.Namespace) (inject.Rules, error)
}

// Webhook returns the admission webhook: a plain handler (decode, Inject, inject.Patch) that
// adds the warnings and records the metrics.
func (i *Injector) Webhook(scheme *runtime.Scheme) *admission.Webhook {
	return &admission.Webhook{Handler: &handler{Injector: i, decoder: admission.NewDecoder(scheme)}}
}

type handler struct {
	*Injector
	decoder admission.Decoder
}

// answer is what one request was answered, for the response and the metrics.
type answer struct {
	resp     admission.Response
	result   string
	reason   inject.SkipReason
	warnings []string
}

func (h *handler) Handle(ctx context.Context, req admission.Request) admission.Response {
	start := time.Now()
	a := h.review(ctx, req)
	if !a.resp.Allowed && a.result != ResultRejected {
		a.result = ResultError
	}
	if h.Metrics != nil {
		h.Metrics.Pods.WithLabelValues(a.result, string(a.reason)).Inc()
		h.Metrics.Latency.WithLabelValues(a.result).Observe(time.Since(start).Seconds())
	}
	return a.resp.WithWarnings(a.warnings...)
}

// review decodes the pod, injects it and answers with the patch.
func (h *handler) review(ctx context.Context, req admission.Request) answer {
	if req.Operation == admissionv1.Delete {
		return answer{resp: admission.Allowed(""), result: ResultError}
	}
	pod := &corev1.Pod{}
	if err := h.decoder.Decode(req, pod); err != nil {
		return answer{resp: admission.Errored(http.StatusBadRequest, err), result: ResultError}
	}
	a, injected := h.inject(ctx, req, pod)
	if injected == nil {
		return a
	}
	patch, err := inject.Patch(pod, injected)
	if err != nil {
		logf.FromContext(ctx).Error(err, "no patch for the injected pod", "pod", podName(pod, req))
		return answer{resp: admission.Errored(http.StatusInternalServerError, err), result: ResultError}
	}
	a.resp = admission.Allowed("")
	if patch != nil {
		a.resp.Patch, a.resp.PatchType = patch, ptr.To(admissionv1.PatchTypeJSONPatch)
	}
	return a
}

// inject decides for one pod: the answer, and the injected pod (nil when it is left alone or denied).
func (h *handler) inject(ctx context.Context, req admission.Request, pod *corev1.Pod) (answer, *corev1.Pod) {
	log := logf.FromContext(ctx)
	allowed := admission.Allowed("")
	name := podName(pod, req)
	if req.Operation != admissionv1.Create {
		return answer{resp: allowed, result: ResultSkipped, reason: inject.SkipNotCreate}, nil
	}
	if pod.Annotations[inject.AnnotationInject] == "false" {
		// opted out whatever the namespace says: no namespace lookup, no log line
		return answer{resp: allowed, result: ResultSkipped, reason: inject.SkipOptedOut}, nil
	}
	// Every other pod needs its namespace: its procview.dev/inject label opts all its pods in
	// (or out), and its Pod Security level decides whether the privileged sidecar may be added.
	_, asked := pod.Annotations[inject.AnnotationInject]
	nsName := req.Namespace
	if nsName == "" {
		nsName = pod.Namespace
	}
	ns := inject.NamespaceInfo{Name: nsName}
	var nsObj corev1.Namespace
	if err := h.Namespaces.Get(ctx, client.ObjectKey{Name: nsName}, &nsObj); err != nil {
		// Injecting without knowing the namespace's Pod Security level could make the pod fail
		// admission; a pod without the view is the safer outcome. Only a pod that asked for the
		// view hears about it: the others may well not be meant to have it.
		a := answer{resp: allowed, result: ResultSkipped, reason: inject.SkipNamespaceUnknown}
		if asked {
			a.warnings = []string{fmt.Sprintf("procview: not injected: cannot read namespace %q: %v", nsName, err)}
		}
		log.Error(err, "namespace lookup failed, not injecting", "pod", name, "reason", a.reason)
		return a, nil
	}
	ns.Labels = nsObj.Labels
	if h.Rules != nil {
		rules, err := h.Rules.Rules(ctx, &nsObj)
		if err != nil {
			// Without the rules the sidecar could make the pod fail its quota or LimitRange.
			a := answer{resp: allowed, result: ResultSkipped, reason: inject.SkipRulesUnknown}
			if asked {
				a.warnings = []string{fmt.Sprintf("procview: not injected: cannot read the ResourceQuotas and LimitRanges of namespace %q: %v", nsName, err)}
			}
			log.Error(err, "rules lookup failed, not injecting", "pod", name, "reason", a.reason)
			return a, nil
		}
		ns.Rules = rules
	}

	res, err := inject.Inject(pod, ns, h.Settings)
	a := answer{resp: allowed, warnings: res.Warnings}
	var invalid *inject.InvalidAnnotationError
	switch {
	case errors.As(err, &invalid):
		a.resp, a.result, a.reason = admission.Denied(err.Error()), ResultRejected, inject.SkipInvalidAnnotation
		log.Info("pod rejected", "pod", name, "reason", res.Skip, "problems", invalid.Problems)
		return a, nil
	case err != nil:
		a.resp, a.result = admission.Denied(err.Error()), ResultError
		return a, nil
	case res.Skip != inject.NotSkipped:
		a.result, a.reason = ResultSkipped, res.Skip
		l := log
		if len(res.Warnings) == 0 && (res.Skip == inject.SkipNotOptedIn || res.Skip == inject.SkipNamespaceDisabled) {
			l = log.V(1) // most pods of a cluster: counted in the metrics, not logged by default
		}
		l.Info("pod skipped", "pod", name, "reason", res.Skip, "warnings", res.Warnings)
		return a, nil
	}
	a.result = ResultInjected
	log.Info("pod injected", "pod", name, "status", res.Pod.Annotations[inject.AnnotationStatus], "warnings", res.Warnings)
	return a, res.Pod
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

var _ admission.Handler = (*handler)(nil)

{{- define "kanary.fullname" -}}
{{- if contains "kanary" .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-kanary" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kanary.labels" -}}
app.kubernetes.io/name: kanary
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: kanary
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "kanary.selector" -}}
app.kubernetes.io/name: kanary
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "kanary.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "kanary.watchNamespace" -}}
{{- .Values.watchNamespace | default .Release.Namespace -}}
{{- end -}}

{{- /* where the data plane's replicas keep the Leases reporting what they serve (weight verification):
the namespace a namespaced data plane watches (--namespace), else its own ($POD_NAMESPACE) */ -}}
{{- define "kanary.reportNamespace" -}}
{{- if .Values.namespaced -}}{{ include "kanary.watchNamespace" . }}{{- else -}}{{ .Release.Namespace }}{{- end -}}
{{- end -}}

{{- define "kanary.sa.controller" -}}
{{- .Values.controller.serviceAccount.name | default (printf "%s-controller" (include "kanary.fullname" .)) -}}
{{- end -}}
{{- define "kanary.sa.dataplane" -}}
{{- .Values.dataplane.serviceAccount.name | default (printf "%s-ingress" (include "kanary.fullname" .)) -}}
{{- end -}}
{{- define "kanary.sa.dashboard" -}}
{{- .Values.dashboard.serviceAccount.name | default (printf "%s-dashboard" (include "kanary.fullname" .)) -}}
{{- end -}}

{{/* writable folders on a read-only root file system */}}
{{- define "kanary.tmpVolume" -}}
- name: tmp
  emptyDir: {}
{{- end -}}

{{- define "kanary.validate" -}}
{{- if not (has .Values.dataplane.kind (list "Deployment" "DaemonSet")) -}}
{{- fail (printf "dataplane.kind must be Deployment or DaemonSet, not %q" .Values.dataplane.kind) -}}
{{- end -}}
{{- if not (has .Values.dataplane.service.type (list "LoadBalancer" "NodePort")) -}}
{{- fail (printf "dataplane.service.type must be LoadBalancer or NodePort, not %q" .Values.dataplane.service.type) -}}
{{- end -}}
{{- if and .Values.namespaced .Values.watchNamespace (ne .Values.watchNamespace .Release.Namespace) -}}
{{- /* allowed: the Roles go into the watched namespace, the Lease stays in the release's */ -}}
{{- end -}}
{{- end -}}

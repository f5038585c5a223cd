{{/*
Names, labels and the checks that span several values. Every template takes its
names and labels from here.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "session-service.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's resources: fullnameOverride, or "<release>-<name>",
or just the release name when it already contains the chart name. 63 characters at
most (DNS label).
*/}}
{{- define "session-service.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := include "session-service.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* "chart-version", for the helm.sh/chart label. */}}
{{- define "session-service.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every resource. */}}
{{- define "session-service.labels" -}}
helm.sh/chart: {{ include "session-service.chart" . }}
{{ include "session-service.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select the release's server pods; never change them (selectors are immutable). */}}
{{- define "session-service.selectorLabels" -}}
app.kubernetes.io/name: {{ include "session-service.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Key of the label that the NetworkPolicy lets reach the gRPC port: networkPolicy.clientLabel,
or "<fullname>-client" (the name shortened so the key stays within 63 characters).
*/}}
{{- define "session-service.clientLabelKey" -}}
{{- .Values.networkPolicy.clientLabel | default (printf "%s-client" (include "session-service.fullname" . | trunc 56 | trimSuffix "-")) }}
{{- end }}

{{/* The label that the NetworkPolicy lets reach the gRPC port, as YAML. */}}
{{- define "session-service.clientLabel" -}}
{{ include "session-service.clientLabelKey" . }}: "true"
{{- end }}

{{/* Name of the ServiceAccount the pods run as. */}}
{{- define "session-service.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "session-service.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: repository@digest, or repository:tag (appVersion by default). */}}
{{- define "session-service.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* Name of the Secret holding the signing keys. */}}
{{- define "session-service.keysSecretName" -}}
{{- .Values.keys.existingSecret | default (printf "%s-keys" (include "session-service.fullname" .)) }}
{{- end }}

{{/* True ("true") when the pods mount signing keys. */}}
{{- define "session-service.hasKeys" -}}
{{- if or .Values.keys.existingSecret .Values.keys.files }}true{{ end }}
{{- end }}

{{/* Name of the Secret holding the refresh-token keys. */}}
{{- define "session-service.refreshTokenKeysSecretName" -}}
{{- .Values.refreshTokenKeys.existingSecret | default (printf "%s-refresh-token-keys" (include "session-service.fullname" .)) }}
{{- end }}

{{/* Key of the refresh-token keys Secret holding the key file. */}}
{{- define "session-service.refreshTokenKeysKey" -}}
{{- if .Values.refreshTokenKeys.existingSecret }}
{{- .Values.refreshTokenKeys.existingSecretKey }}
{{- else -}}
refresh-token-keys
{{- end }}
{{- end }}

{{/* True ("true") when the pods mount refresh-token keys. */}}
{{- define "session-service.hasRefreshTokenKeys" -}}
{{- if or .Values.refreshTokenKeys.existingSecret .Values.refreshTokenKeys.keys }}true{{ end }}
{{- end }}

{{/* Name of the Secret holding the Redis URL and password. */}}
{{- define "session-service.redisSecretName" -}}
{{- .Values.redis.existingSecret | default (printf "%s-redis" (include "session-service.fullname" .)) }}
{{- end }}

{{/* Key of the Redis Secret holding the URL. */}}
{{- define "session-service.redisUrlKey" -}}
{{- if .Values.redis.existingSecret }}
{{- .Values.redis.existingSecretUrlKey }}
{{- else }}
{{- print "redis-url" }}
{{- end }}
{{- end }}

{{/* Key of the Redis Secret holding the password; empty when there is none. */}}
{{- define "session-service.redisPasswordKey" -}}
{{- if .Values.redis.existingSecret }}
{{- .Values.redis.existingSecretPasswordKey }}
{{- else if .Values.redis.password }}
{{- print "redis-password" }}
{{- end }}
{{- end }}

{{/* Name of the Secret holding the server certificate: tls.existingSecret or the Certificate's. */}}
{{- define "session-service.tlsSecretName" -}}
{{- .Values.tls.existingSecret | default (printf "%s-tls" (include "session-service.fullname" .)) }}
{{- end }}

{{/*
The port the probes and "helm test" check: the plaintext health port while the gRPC
port speaks TLS (Kubernetes gRPC probes cannot), else the gRPC port.
*/}}
{{- define "session-service.healthCheckPort" -}}
{{- if .Values.tls.enabled }}{{ .Values.config.healthPort }}{{ else }}{{ .Values.config.port }}{{ end }}
{{- end }}

{{/* The DNS names of the cert-manager Certificate: the Services' names, then tls.certManager.dnsNames. */}}
{{- define "session-service.certificateDnsNames" -}}
{{- $fullname := include "session-service.fullname" . }}
{{- $services := list $fullname }}
{{- if .Values.service.headless }}{{ $services = append $services (printf "%s-headless" $fullname) }}{{ end }}
{{- $names := list }}
{{- range $services }}
{{- $names = concat $names (list . (printf "%s.%s" . $.Release.Namespace) (printf "%s.%s.svc" . $.Release.Namespace) (printf "%s.%s.svc.%s" . $.Release.Namespace $.Values.clusterDomain)) }}
{{- end }}
{{- concat $names .Values.tls.certManager.dnsNames | uniq | toYaml }}
{{- end }}

{{/* True ("true") when the server gets an authorization policy. */}}
{{- define "session-service.hasAuthzPolicy" -}}
{{- if or .Values.authz.policy .Values.authz.existingConfigMap }}true{{ end }}
{{- end }}

{{/* Name of the ConfigMap holding the authorization policy. */}}
{{- define "session-service.authzConfigMapName" -}}
{{- .Values.authz.existingConfigMap | default (printf "%s-authz" (include "session-service.fullname" .)) }}
{{- end }}

{{/* Key (and mounted file name) of the authorization policy in its ConfigMap. */}}
{{- define "session-service.authzPolicyKey" -}}
{{- if .Values.authz.existingConfigMap }}{{ .Values.authz.existingConfigMapKey }}{{ else }}policy.json{{ end }}
{{- end }}

{{/* otel.resourceAttributes as OTEL_RESOURCE_ATTRIBUTES: "k1=v1,k2=v2", sorted by key. */}}
{{- define "session-service.resourceAttributes" -}}
{{- $pairs := list }}
{{- range $k, $v := .Values.otel.resourceAttributes }}
{{- $pairs = append $pairs (printf "%s=%s" $k (toString $v)) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}

{{/*
terminationGracePeriodSeconds: the preStop sleep, then the app's drain
(SESSION_SHUTDOWN_GRACE, rounded up), then a margin, so SIGKILL never cuts a drain short.
*/}}
{{- define "session-service.terminationGracePeriodSeconds" -}}
{{- $drain := .Values.config.shutdownGrace | float64 | ceil | int }}
{{- add .Values.termination.preStopSleepSeconds $drain .Values.termination.marginSeconds }}
{{- end }}

{{/*
The checks the schema cannot express, which span several values. Included by the
Deployment, so any render fails with a message naming the value to fix.
*/}}
{{- define "session-service.validate" -}}
{{- $v := .Values }}
{{- if $v.redis.embedded }}
  {{- if or (gt (int $v.replicaCount) 1) $v.autoscaling.enabled }}
    {{- fail "redis.embedded gives every pod its own Redis: set replicaCount to 1 and autoscaling.enabled to false" }}
  {{- end }}
  {{- if eq $v.redis.mode "cluster" }}
    {{- fail "redis.embedded is a single standalone Redis: set redis.mode to standalone" }}
  {{- end }}
  {{- if or $v.redis.url $v.redis.existingSecret }}
    {{- fail "redis.embedded starts its own Redis: leave redis.url and redis.existingSecret empty" }}
  {{- end }}
{{- else }}
  {{- if not (or $v.redis.url $v.redis.existingSecret) }}
    {{- fail "redis.url (or redis.existingSecret) is required; set redis.embedded=true only for a demo" }}
  {{- end }}
  {{- if not (include "session-service.hasKeys" .) }}
    {{- fail "keys.files (or keys.existingSecret) is required: without keys every pod signs with its own throwaway key" }}
  {{- end }}
  {{- if not (include "session-service.hasRefreshTokenKeys" .) }}
    {{- fail "refreshTokenKeys.keys (or refreshTokenKeys.existingSecret) is required: without them every pod refuses the others' refresh tokens" }}
  {{- end }}
{{- end }}
{{- if and $v.refreshTokenKeys.keys $v.refreshTokenKeys.existingSecret }}
  {{- fail "refreshTokenKeys.existingSecret replaces refreshTokenKeys.keys: set only one" }}
{{- end }}
{{- if and $v.redis.existingSecret (or $v.redis.url $v.redis.password) }}
  {{- fail "redis.existingSecret replaces redis.url and redis.password: leave them empty" }}
{{- end }}
{{- if and $v.keys.files $v.keys.existingSecret }}
  {{- fail "keys.existingSecret replaces keys.files: set only one" }}
{{- end }}
{{- if $v.keys.files }}
  {{- $private := list }}
  {{- range $kid, $pem := $v.keys.files }}
    {{- if and $pem (contains "PRIVATE KEY" $pem) }}{{ $private = append $private $kid }}{{ end }}
  {{- end }}
  {{- if not $private }}
    {{- fail "keys.files has no private key: one key must be able to sign" }}
  {{- end }}
  {{- if $v.keys.signingKeyId }}
    {{- if not (has $v.keys.signingKeyId $private) }}
      {{- fail (printf "keys.signingKeyId %q must name a private key in keys.files (private keys: %s)" $v.keys.signingKeyId (join ", " $private)) }}
    {{- end }}
  {{- else if gt (len $private) 1 }}
    {{- fail (printf "keys.files has several private keys (%s): set keys.signingKeyId" (join ", " $private)) }}
  {{- end }}
{{- end }}
{{- if $v.podDisruptionBudget.enabled }}
  {{- $hasMax := not (kindIs "invalid" $v.podDisruptionBudget.maxUnavailable) }}
  {{- $hasMin := not (kindIs "invalid" $v.podDisruptionBudget.minAvailable) }}
  {{- if eq $hasMax $hasMin }}
    {{- fail "podDisruptionBudget: set exactly one of maxUnavailable and minAvailable" }}
  {{- end }}
{{- end }}
{{- if and $v.autoscaling.enabled (gt (int $v.autoscaling.minReplicas) (int $v.autoscaling.maxReplicas)) }}
  {{- fail "autoscaling.minReplicas must not exceed autoscaling.maxReplicas" }}
{{- end }}
{{- if and $v.autoscaling.enabled (kindIs "invalid" $v.autoscaling.targetCPUUtilizationPercentage) (kindIs "invalid" $v.autoscaling.targetMemoryUtilizationPercentage) }}
  {{- fail "autoscaling needs targetCPUUtilizationPercentage or targetMemoryUtilizationPercentage" }}
{{- end }}
{{- if $v.tls.enabled }}
  {{- if not (or $v.tls.existingSecret $v.tls.certManager.enabled) }}
    {{- fail "tls.enabled needs a certificate: set tls.existingSecret or tls.certManager.enabled" }}
  {{- end }}
  {{- if has (int $v.config.healthPort) (list (int $v.config.port) (int $v.config.metricsPort)) }}
    {{- fail "config.healthPort must differ from config.port and config.metricsPort" }}
  {{- end }}
{{- else if or $v.tls.certManager.enabled $v.tls.clientAuth.enabled }}
  {{- fail "tls.certManager and tls.clientAuth need tls.enabled=true" }}
{{- end }}
{{- if $v.tls.certManager.enabled }}
  {{- if $v.tls.existingSecret }}
    {{- fail (printf "tls.certManager writes the Secret %s-tls itself: leave tls.existingSecret empty" (include "session-service.fullname" .)) }}
  {{- end }}
  {{- if not $v.tls.certManager.issuerRef.name }}
    {{- fail "tls.certManager.issuerRef.name is required: the Issuer or ClusterIssuer that signs the certificate" }}
  {{- end }}
{{- end }}
{{- if and $v.authz.policy $v.authz.existingConfigMap }}
  {{- fail "authz.existingConfigMap replaces authz.policy: set only one" }}
{{- end }}
{{- if and (include "session-service.hasAuthzPolicy" .) (not (or $v.tls.clientAuth.enabled $v.callerTokens.enabled)) }}
  {{- fail "an authorization policy needs caller identities: enable tls.clientAuth or callerTokens (without either, every call would be refused)" }}
{{- end }}
{{- if $v.callerTokens.enabled }}
  {{- if not (and $v.callerTokens.issuer $v.callerTokens.audience) }}
    {{- fail "callerTokens needs callerTokens.issuer and callerTokens.audience" }}
  {{- end }}
  {{- if eq (not $v.callerTokens.jwksSecret) (not $v.callerTokens.jwksConfigMap) }}
    {{- fail "callerTokens needs exactly one of callerTokens.jwksSecret and callerTokens.jwksConfigMap" }}
  {{- end }}
{{- end }}
{{- if and $v.metrics.serviceMonitor.enabled (eq (int $v.config.metricsPort) 0) }}
  {{- fail "metrics.serviceMonitor needs metrics: config.metricsPort is 0" }}
{{- end }}
{{- if gt (int $v.config.idleTimeout) (int $v.config.absoluteTimeout) }}
  {{- fail "config.idleTimeout must not exceed config.absoluteTimeout" }}
{{- end }}
{{- /* Fail closed, as the server does at start (docs/security.md). */}}
{{- if not (include "session-service.hasAuthzPolicy" .) }}
  {{- if or $v.tls.clientAuth.enabled $v.callerTokens.enabled }}
    {{- fail "tls.clientAuth and callerTokens identify callers: set authz.policy (or authz.existingConfigMap) to say what each may call; without one every caller they authenticate could call every RPC, and the server refuses to start" }}
  {{- end }}
  {{- if and (not $v.authz.allowUnauthenticatedCallers) (or (not $v.redis.embedded) $v.tls.enabled) }}
    {{- fail "no caller is identified (tls.clientAuth and callerTokens are off) and there is no authz.policy: every pod that reaches the gRPC port could call every RPC, and the server refuses to start. Enable tls.clientAuth or callerTokens with authz.policy, or set authz.allowUnauthenticatedCallers=true to accept that" }}
  {{- end }}
{{- end }}
{{- end }}

{{/*
Worker processes per pod: config.workers, or with 0 the CPU limit rounded up ("2", 2,
"1500m", "0.5"), 1 without a CPU limit.
*/}}
{{- define "session-service.workers" -}}
{{- $workers := int .Values.config.workers -}}
{{- if gt $workers 0 -}}
{{- $workers -}}
{{- else -}}
{{- $cpu := "" -}}
{{- with (.Values.resources).limits -}}
{{- if .cpu -}}{{- $cpu = toString .cpu -}}{{- end -}}
{{- end -}}
{{- if not $cpu -}}
1
{{- else if hasSuffix "m" $cpu -}}
{{- max 1 (div (add (int64 (trimSuffix "m" $cpu)) 999) 1000) -}}
{{- else -}}
{{- max 1 (int64 (ceil (float64 $cpu))) -}}
{{- end -}}
{{- end -}}
{{- end -}}

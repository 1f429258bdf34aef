import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parse, parseAllDocuments } from 'yaml'

// Offline validation of the kustomize base: structure and the fields that matter for
// running it safely (no cluster here; `kubectl kustomize infra/k8s` renders it for real).
const DIR = resolve(__dirname, '../k8s')
interface Doc { apiVersion: string; kind: string; metadata: { name: string }; spec?: any; data?: any; stringData?: any }
const kustomization = parse(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8')) as { resources: string[]; namespace: string }
const docs: Doc[] = kustomization.resources.flatMap((file) => parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((d) => {
  expect(d.errors).toEqual([])
  return d.toJS() as Doc
}))
const find = (kind: string, name: string): Doc | undefined => docs.find((d) => d.kind === kind && d.metadata.name === name)
const SHUTDOWN_GRACE_S = 10

test('kustomization lists every manifest in the folder, and each parses', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort()
  expect([...kustomization.resources].sort()).toEqual(files)
  expect(kustomization.namespace).toBe('socialnet')
  for (const doc of docs) expect([doc.kind, Boolean(doc.apiVersion && doc.metadata?.name)]).toEqual([doc.kind, true])
})

test.each(['api', 'mailer', 'worker', 'bounces'])('%s Deployment: probes, resources, grace longer than the shutdown, non-root', (name) => {
  const deployment = find('Deployment', name)!
  expect(deployment.spec.selector.matchLabels).toEqual(deployment.spec.template.metadata.labels)
  const pod = deployment.spec.template.spec
  expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(SHUTDOWN_GRACE_S)
  expect(pod.securityContext.runAsNonRoot).toBe(true)
  const [container] = pod.containers
  expect(container.livenessProbe).toBeDefined()
  expect(container.readinessProbe).toBeDefined()
  expect(container.resources.requests.cpu).toBeDefined()
  expect(container.resources.requests.memory).toBeDefined()
  expect(container.resources.limits.memory).toBeDefined()
  // Each service its own broker credentials.
  const amqp = container.env.find((e: { name: string }) => e.name === 'AMQP_URL')
  expect(amqp.valueFrom.secretKeyRef.key).toBe(`${name.toUpperCase()}_AMQP_URL`)
  expect(find('PodDisruptionBudget', name)?.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels)
})

test('api: readiness is /ready, liveness /health, a Service and an HPA', () => {
  const [container] = find('Deployment', 'api')!.spec.template.spec.containers
  expect(container.readinessProbe.httpGet.path).toBe('/ready')
  expect(container.livenessProbe.httpGet.path).toBe('/health')
  expect(find('Service', 'api')?.spec.selector).toEqual({ 'app.kubernetes.io/name': 'api' })
  const hpa = find('HorizontalPodAutoscaler', 'api')!
  expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'api' })
  expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2)
})

test('bounces: readiness /ready, liveness /health, port 25 of a Service reaches its SMTP port', () => {
  const [container] = find('Deployment', 'bounces')!.spec.template.spec.containers
  expect(container.readinessProbe.httpGet.path).toBe('/ready')
  expect(container.livenessProbe.httpGet.path).toBe('/health')
  const smtp = container.ports.find((p: { name: string }) => p.name === 'smtp')
  const service = find('Service', 'bounces')!
  expect(service.spec.selector).toEqual({ 'app.kubernetes.io/name': 'bounces' })
  expect(service.spec.ports).toEqual([expect.objectContaining({ port: 25, targetPort: 'smtp' })])
  expect(container.env.find((e: { name: string }) => e.name === 'BOUNCE_SMTP_PORT').value).toBe(String(smtp.containerPort))
  // The mailer signs with the same secret the receiver verifies with.
  const secretKey = (name: string) => find('Deployment', name)!.spec.template.spec.containers[0].env
    .find((e: { name: string }) => e.name === 'BOUNCE_SECRET')?.valueFrom.secretKeyRef.key
  expect(secretKey('mailer')).toBe('BOUNCE_SECRET')
  expect(secretKey('bounces')).toBe('BOUNCE_SECRET')
  expect(find('ConfigMap', 'socialnet-config')?.data.BOUNCE_DOMAIN).toBeDefined()
})

test('mailer and worker scale on their RabbitMQ queue length (KEDA)', () => {
  const queues = (name: string): string[] => find('ScaledObject', name)!.spec.triggers
    .filter((t: { type: string }) => t.type === 'rabbitmq').map((t: { metadata: { queueName: string } }) => t.metadata.queueName)
  expect(queues('mailer')).toEqual(['socialnet.mail'])
  expect(queues('worker').sort()).toEqual(['socialnet.jobs', 'socialnet.thumbnails'])
  expect(find('ScaledObject', 'mailer')!.spec.scaleTargetRef.name).toBe('mailer')
})

test('ConfigMap and the Secret example hold what the Deployments reference', () => {
  const secret = find('Secret', 'socialnet-secrets')!
  for (const doc of docs.filter((d) => d.kind === 'Deployment')) {
    for (const container of doc.spec.template.spec.containers) {
      for (const e of container.env ?? []) {
        if (e.valueFrom?.secretKeyRef) expect(secret.stringData).toHaveProperty(e.valueFrom.secretKeyRef.key)
      }
      expect(container.envFrom[0].configMapRef.name).toBe('socialnet-config')
    }
  }
  expect(find('ConfigMap', 'socialnet-config')?.data.KV_LOG).toBe('postgres')
})

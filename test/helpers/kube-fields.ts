import { join } from 'node:path';
import ts from 'typescript';
import type { KubeObject } from './kustomize.js';
import { REPO_ROOT } from './spawn-server.js';

/**
 * Fields that the Kubernetes API does not know (a typo such as `readinesProbe:`), which the API
 * server drops or, with strict field validation, refuses. kubernetes-models' validate() checks
 * types and required fields but lets unknown ones through; its TypeScript interfaces list every
 * field of the OpenAPI schema, so TypeScript's checker reads them from there.
 */
const MODELS: Record<string, [module: string, name: string]> = {
  'v1/Namespace': ['kubernetes-models/v1/Namespace', 'INamespace'],
  'v1/ServiceAccount': ['kubernetes-models/v1/ServiceAccount', 'IServiceAccount'],
  'v1/ConfigMap': ['kubernetes-models/v1/ConfigMap', 'IConfigMap'],
  'v1/Service': ['kubernetes-models/v1/Service', 'IService'],
  'apps/v1/Deployment': ['kubernetes-models/apps/v1/Deployment', 'IDeployment'],
  'autoscaling/v2/HorizontalPodAutoscaler': [
    'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler',
    'IHorizontalPodAutoscaler',
  ],
  'policy/v1/PodDisruptionBudget': [
    'kubernetes-models/policy/v1/PodDisruptionBudget',
    'IPodDisruptionBudget',
  ],
};

let loaded: { checker: ts.TypeChecker; models: ts.Type } | undefined;

/** One program over a file that names each model's interface as a property of `Models`. */
export function loadKubernetesModels(): { checker: ts.TypeChecker; models: ts.Type } {
  if (loaded) return loaded;
  const file = join(REPO_ROOT, 'test', 'helpers', 'kubernetes-models.generated.ts');
  const keys = Object.keys(MODELS);
  const source = [
    ...keys.map(
      (key, i) => `import type { ${MODELS[key]?.[1]} as M${i} } from '${MODELS[key]?.[0]}';`,
    ),
    'export interface Models {',
    ...keys.map((key, i) => `  '${key}': M${i};`),
    '}',
  ].join('\n');
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    types: [],
    lib: ['lib.es5.d.ts'],
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, ...rest) =>
    name === file
      ? ts.createSourceFile(name, source, ts.ScriptTarget.ES2022)
      : getSourceFile.call(host, name, ...rest);
  host.fileExists = (name) => name === file || fileExists.call(host, name);
  host.readFile = (name) => (name === file ? source : readFile.call(host, name));
  const program = ts.createProgram([file], options, host);
  const checker = program.getTypeChecker();
  const declaration = program.getSourceFile(file)?.statements.find(ts.isInterfaceDeclaration);
  if (!declaration) throw new Error('kubernetes-models types did not load');
  loaded = { checker, models: checker.getTypeAtLocation(declaration.name) };
  return loaded;
}

function walk(checker: ts.TypeChecker, type: ts.Type, value: unknown, path: string, out: string[]) {
  if (value === null || typeof value !== 'object') return;
  const nonNull = checker.getNonNullableType(type);
  if (nonNull.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return;
  const members = nonNull.isUnion() ? nonNull.types : [nonNull];
  if (Array.isArray(value)) {
    const list = members.find((member) => checker.isArrayType(member));
    const [item] = list ? checker.getTypeArguments(list as ts.TypeReference) : [];
    if (item) value.forEach((element, i) => walk(checker, item, element, `${path}[${i}]`, out));
    return;
  }
  const objects = members.filter(
    (member) => member.flags & ts.TypeFlags.Object && !checker.isArrayType(member),
  );
  if (objects.length === 0) return;
  for (const [key, child] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    const property = objects.map((member) => member.getProperty(key)).find(Boolean);
    const index = objects
      .map((member) => checker.getIndexInfoOfType(member, ts.IndexKind.String))
      .find(Boolean);
    if (property) walk(checker, checker.getTypeOfSymbol(property), child, at, out);
    else if (index) walk(checker, index.type, child, at, out);
    else out.push(at);
  }
}

/** The paths (spec.template.spec.containers[0].readinesProbe) of fields the object's kind lacks. */
export function unknownFields(object: KubeObject): string[] {
  const { checker, models } = loadKubernetesModels();
  const model = models.getProperty(`${object.apiVersion}/${object.kind}`);
  if (!model) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  const out: string[] = [];
  walk(checker, checker.getTypeOfSymbol(model), object, '', out);
  return out;
}

import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';

/** A Kubernetes object as rendered. */
export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
};

interface Kustomization {
  namespace?: string;
  resources?: string[];
  patches?: { path: string }[];
  images?: { name: string; newName?: string; newTag?: string }[];
}

const readYaml = (path: string) =>
  parseAllDocuments(readFileSync(path, 'utf8'))
    .map((document) => document.toJS() as unknown)
    .filter(Boolean);

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** Strategic merge as Kubernetes does it for the fields used here: lists of named items merge by name. */
export function strategicMerge(target: unknown, patch: unknown): unknown {
  if (isObject(target) && isObject(patch)) {
    const merged: Record<string, unknown> = { ...target };
    for (const [key, value] of Object.entries(patch))
      merged[key] = strategicMerge(target[key], value);
    return merged;
  }
  if (
    Array.isArray(target) &&
    Array.isArray(patch) &&
    patch.every((item) => isObject(item) && 'name' in item)
  ) {
    // As kubectl: items new to the list come first, in patch order; existing ones merge in place.
    const merged = [...target] as Record<string, unknown>[];
    const added: Record<string, unknown>[] = [];
    for (const item of patch as Record<string, unknown>[]) {
      const index = merged.findIndex((existing) => existing['name'] === item['name']);
      if (index === -1) added.push(item);
      else merged[index] = strategicMerge(merged[index], item) as Record<string, unknown>;
    }
    return [...added, ...merged];
  }
  return patch;
}

function setImages(node: unknown, images: NonNullable<Kustomization['images']>): void {
  if (Array.isArray(node)) node.forEach((item) => setImages(item, images));
  if (!isObject(node)) return;
  for (const [key, value] of Object.entries(node)) {
    if (key === 'containers' && Array.isArray(value)) {
      for (const container of value as Record<string, unknown>[]) {
        const [name = '', tag] = String(container['image']).split(':');
        const image = images.find((candidate) => candidate.name === name);
        if (image)
          container['image'] = `${image.newName ?? name}:${image.newTag ?? tag ?? 'latest'}`;
      }
    } else setImages(value, images);
  }
}

/**
 * Renders a kustomization with the features this repository uses (resources, patches by file,
 * images, namespace), for machines without kubectl.
 */
export function renderKustomization(dir: string): KubeObject[] {
  const kustomization = readYaml(join(dir, 'kustomization.yaml'))[0] as Kustomization;
  let objects: KubeObject[] = [];
  for (const resource of kustomization.resources ?? []) {
    const path = join(dir, resource);
    objects.push(
      ...(resource.endsWith('.yaml')
        ? (readYaml(path) as KubeObject[])
        : renderKustomization(path)),
    );
  }
  for (const { path } of kustomization.patches ?? []) {
    for (const patch of readYaml(join(dir, path)) as KubeObject[]) {
      const index = objects.findIndex(
        (object) => object.kind === patch.kind && object.metadata.name === patch.metadata.name,
      );
      if (index === -1)
        throw new Error(`${path}: no ${patch.kind} ${patch.metadata.name} to patch`);
      objects[index] = strategicMerge(objects[index], patch) as KubeObject;
    }
  }
  if (kustomization.images)
    objects.forEach((object) => setImages(object, kustomization.images ?? []));
  if (kustomization.namespace) {
    const namespace = kustomization.namespace;
    objects = objects.map((object) =>
      object.kind === 'Namespace'
        ? object
        : { ...object, metadata: { ...object.metadata, namespace } },
    );
  }
  return objects;
}

/** `kubectl kustomize` output, or undefined where kubectl is not installed. */
export function kubectlKustomize(dir: string): KubeObject[] | undefined {
  if (spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status !== 0)
    return undefined;
  const output = execFileSync('kubectl', ['kustomize', dir], {
    encoding: 'utf8',
    cwd: dirname(dir),
  });
  return parseAllDocuments(output).map((document) => document.toJS() as KubeObject);
}

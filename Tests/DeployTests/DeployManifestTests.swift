import Foundation
import Testing

/// deploy/kubernetes/: every document parses, is a kind the cluster serves, and names only fields
/// that exist in the Kubernetes API (deploy/api-reference); the pieces that must agree with each
/// other do (RBAC and the sidecar, volumes and mounts, security settings).
@Suite struct DeployManifestTests {
    @Test func everyDocumentIsAServedKindWithOnlyExistingFields() throws {
        let manifests = try DeployManifests()
        let reference = try KubernetesAPIReference()
        #expect(Set(manifests.documents.map(\.kind))
            == ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "DaemonSet"])
        for document in manifests.documents {
            let problems = reference.problems(of: document.object)
            #expect(problems.isEmpty, "\(document.place): \(problems.joined(separator: "; "))")
        }
    }

    /// `kubectl apply -f deploy/kubernetes/` applies the files in name order: the namespace comes
    /// before anything in it, the ServiceAccount and ConfigMap before the DaemonSet that uses them.
    @Test func theFilesApplyInOrder() throws {
        let order = try DeployManifests().documents.map(\.kind)
        #expect(order == ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "DaemonSet"], "\(order)")
    }

    /// The walk itself: an unknown field, a wrong type, a missing required field, a type not
    /// vendored and an unknown kind are each reported with their path.
    @Test func theWalkNamesEveryKindOfMistake() throws {
        let reference = try KubernetesAPIReference()
        let daemonSet: [String: Any] = [
            "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": ["name": "x", "lables": ["a": "b"]],
            "spec": [
                "selector": ["matchLabels": ["a": "b"]],
                "template": ["spec": [
                    "hostNetwork": "yes",
                    "containers": [["image": "x", "securityContext": ["capabilities": ["add": ["NET_RAW"]], "privileged": false]]],
                    "affinity": [:],
                ] as [String: Any]],
            ] as [String: Any],
        ]
        let problems = reference.problems(of: daemonSet)
        #expect(problems.contains("$.metadata.lables: no such field in io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), "\(problems)")
        #expect(problems.contains("$.spec.template.spec.hostNetwork: expected true or false, found the string \"yes\""), "\(problems)")
        #expect(problems.contains("$.spec.template.spec.containers[0]: missing required field 'name' of io.k8s.api.core.v1.Container"), "\(problems)")
        #expect(problems.contains { $0.hasPrefix("$.spec.template.spec.affinity: its type io.k8s.api.core.v1.Affinity is not in deploy/api-reference") }, "\(problems)")
        #expect(problems.count == 4, "\(problems)")
        #expect(reference.problems(of: ["apiVersion": "extensions/v1beta1", "kind": "DaemonSet"])
            == ["$: extensions/v1beta1 DaemonSet is not a kind the reference knows"])
    }

    /// The sidecar's ClusterRole: read verbs only, and exactly the resources the sidecar lists.
    @Test func theClusterRoleGrantsReadingWhatTheSidecarReadsAndNothingElse() throws {
        let manifests = try DeployManifests()
        let rules = try #require(manifests.one("ClusterRole").object["rules"] as? [[String: Any]])
        var granted: Set<String> = []
        for rule in rules {
            let verbs = Set(rule["verbs"] as? [String] ?? [])
            #expect(verbs == ["get", "list", "watch"], "rule \(rule): verbs must be get, list, watch")
            #expect(rule["nonResourceURLs"] == nil && rule["resourceNames"] == nil)
            for group in rule["apiGroups"] as? [String] ?? [] {
                for resource in rule["resources"] as? [String] ?? [] { granted.insert(group.isEmpty ? resource : "\(resource).\(group)") }
            }
        }
        // What inventory-sync.sh's resource_of prints, split on commas, core resources bare.
        let script = try String(contentsOf: DeployManifests.deploy.appendingPathComponent("inventory-sync.sh"), encoding: .utf8)
        let body = try #require(script.components(separatedBy: "resource_of() {").last?.components(separatedBy: "\n}").first)
        var read: Set<String> = []
        for line in body.split(separator: "\n") {
            guard let echo = line.range(of: "echo ") else { continue }
            let list = line[echo.upperBound...].prefix { $0 != " " && $0 != ";" }
            read.formUnion(list.split(separator: ",").map(String.init))
        }
        #expect(read.count == 8, "\(read.sorted())")
        // Endpoints are granted too: docs/usage.md documents `kubectl get services,endpoints`.
        #expect(granted == read.union(["endpoints"]), "granted \(granted.sorted()), the sidecar reads \(read.sorted())")

        let binding = try manifests.one("ClusterRoleBinding").object
        let roleRef = try #require(binding["roleRef"] as? [String: Any])
        let role = try manifests.one("ClusterRole")
        #expect(roleRef["kind"] as? String == "ClusterRole" && roleRef["name"] as? String == role.name)
        let account = try manifests.one("ServiceAccount")
        let subjects = try #require(binding["subjects"] as? [[String: Any]])
        #expect(subjects.count == 1 && subjects[0]["name"] as? String == account.name
            && subjects[0]["namespace"] as? String == (account.object["metadata"] as? [String: Any])?["namespace"] as? String)
        #expect(try manifests.podSpec()["serviceAccountName"] as? String == account.name)
    }

    /// hostNetwork, every node, no privileged container, capabilities dropped and only the
    /// capture's added, read-only root filesystems, RuntimeDefault seccomp, the API token in the
    /// sidecar alone.
    @Test func thePodRunsWithTheLeastPrivilegeTheCaptureNeeds() throws {
        let manifests = try DeployManifests()
        let pod = try manifests.podSpec()
        #expect(pod["hostNetwork"] as? Bool == true)
        #expect(pod["dnsPolicy"] as? String == "ClusterFirstWithHostNet")
        #expect(pod["hostPID"] == nil && pod["hostIPC"] == nil)
        #expect((pod["tolerations"] as? [[String: Any]])?.contains { $0["operator"] as? String == "Exists" && $0["key"] == nil } == true)
        #expect(((pod["securityContext"] as? [String: Any])?["seccompProfile"] as? [String: Any])?["type"] as? String == "RuntimeDefault")
        #expect(pod["automountServiceAccountToken"] as? Bool == false)
        for name in ["flowmon", "inventory"] {
            let context = try #require(try manifests.container(name)["securityContext"] as? [String: Any], "\(name)")
            #expect(context["privileged"] as? Bool != true, "\(name)")
            #expect(context["allowPrivilegeEscalation"] as? Bool == false, "\(name)")
            #expect(context["readOnlyRootFilesystem"] as? Bool == true, "\(name)")
            let capabilities = try #require(context["capabilities"] as? [String: Any], "\(name)")
            #expect(capabilities["drop"] as? [String] == ["ALL"], "\(name)")
            let added = Set(capabilities["add"] as? [String] ?? [])
            // The eBPF datapath needs BPF and NET_ADMIN, libpcap (where eBPF cannot run) NET_RAW;
            // --user needs SETUID and SETGID to switch (DeployCapabilityTests checks each against
            // the kernel); the sidecar needs none.
            #expect(added == (name == "flowmon" ? ["BPF", "NET_ADMIN", "NET_RAW", "SETUID", "SETGID"] : []), "\(name): \(added)")
            let mounts = try manifests.container(name)["volumeMounts"] as? [[String: Any]] ?? []
            let token = mounts.contains { $0["mountPath"] as? String == "/var/run/secrets/kubernetes.io/serviceaccount" }
            #expect(token == (name == "inventory"), "\(name): the API token belongs to the sidecar only")
        }
        let inventory = try manifests.container("inventory")
        #expect(inventory["restartPolicy"] as? String == "Always", "a native sidecar: it starts before flowmon")
        #expect((inventory["securityContext"] as? [String: Any])?["runAsNonRoot"] as? Bool == true)
    }

    /// Every volume mount names a volume, every volume is mounted, the ConfigMap keys the pod
    /// reads exist, and both containers use the inventory directory their scripts are told.
    @Test func volumesMountsAndConfigMapKeysAgree() throws {
        let manifests = try DeployManifests()
        let pod = try manifests.podSpec()
        let volumes = Set((pod["volumes"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String })
        var mounted: Set<String> = []
        for name in ["flowmon", "inventory"] {
            let container = try manifests.container(name)
            for mount in container["volumeMounts"] as? [[String: Any]] ?? [] {
                let volume = mount["name"] as? String ?? ""
                #expect(volumes.contains(volume), "\(name) mounts \(volume), which is no volume")
                mounted.insert(volume)
                if volume == "inventory" {
                    #expect(DeployManifests.environment(container, "FLOWMON_INVENTORY_DIR") == mount["mountPath"] as? String, "\(name)")
                }
            }
        }
        #expect(mounted == volumes, "volumes never mounted: \(volumes.subtracting(mounted))")

        let data = try #require(try manifests.one("ConfigMap").object["data"] as? [String: Any])
        var keys: [String] = []
        for volume in pod["volumes"] as? [[String: Any]] ?? [] {
            for item in (volume["configMap"] as? [String: Any])?["items"] as? [[String: Any]] ?? [] {
                if (volume["configMap"] as? [String: Any])?["name"] as? String == "flowmon" { keys.append(item["key"] as? String ?? "") }
            }
        }
        for env in try manifests.container("flowmon")["env"] as? [[String: Any]] ?? [] {
            if let reference = (env["valueFrom"] as? [String: Any])?["configMapKeyRef"] as? [String: Any] { keys.append(reference["key"] as? String ?? "") }
        }
        #expect(Set(keys) == Set(data.keys), "the pod reads \(keys.sorted()); the ConfigMap has \(data.keys.sorted())")
    }

    /// `--user` names the user the image creates, with the UID the sidecar runs as (the files it
    /// writes are read by flowmon after the switch).
    @Test func theUserFlowmonSwitchesToIsTheImagesUser() throws {
        let manifests = try DeployManifests()
        let containerfile = try String(contentsOf: DeployManifests.deploy.appendingPathComponent("Containerfile"), encoding: .utf8)
        let args = try manifests.container("flowmon")["args"] as? [String] ?? []
        let user = try #require(args.first { $0.hasPrefix("--user=") }.map { String($0.dropFirst("--user=".count)) })
        let useradd = try #require(containerfile.components(separatedBy: "useradd ").dropFirst().first)
        #expect(useradd.components(separatedBy: "\n").prefix(2).joined().contains(" \(user)"), "Containerfile: \(useradd.prefix(200))")
        let uid = try #require(useradd.components(separatedBy: "--uid ").dropFirst().first?.prefix { $0.isNumber })
        let sidecar = try #require(try manifests.container("inventory")["securityContext"] as? [String: Any])
        #expect(sidecar["runAsUser"] as? Int == Int(uid))
        #expect(containerfile.contains("ENTRYPOINT [\"/usr/local/bin/flowmon-entrypoint\"]"))
        #expect(try manifests.container("inventory")["command"] as? [String] == ["/usr/local/bin/flowmon-inventory-sync"])
        #expect(containerfile.contains("COPY deploy/entrypoint.sh /usr/local/bin/flowmon-entrypoint"))
        #expect(containerfile.contains("COPY deploy/inventory-sync.sh /usr/local/bin/flowmon-inventory-sync"))
    }
}

package testenv

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// UserSubject is an RBAC subject for a user name.
func UserSubject(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
}

// GroupSubject is an RBAC subject for a group.
func GroupSubject(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: name}
}

// ServiceAccountSubject is an RBAC subject for a service account.
func ServiceAccountSubject(namespace, name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: name}
}

// CreateNamespaces creates namespaces as the admin.
func (k *Kube) CreateNamespaces(ctx context.Context, names ...string) error {
	for _, name := range names {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if _, err := k.Admin.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("testenv: create namespace %s: %w", name, err)
		}
	}
	return nil
}

// CreateClusterRole creates a ClusterRole with rules, as the admin.
func (k *Kube) CreateClusterRole(ctx context.Context, name string, rules ...rbacv1.PolicyRule) error {
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
	if _, err := k.Admin.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("testenv: create clusterrole %s: %w", name, err)
	}
	return nil
}

// CreateRole creates a Role with rules in namespace, as the admin.
func (k *Kube) CreateRole(ctx context.Context, namespace, name string, rules ...rbacv1.PolicyRule) error {
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}, Rules: rules}
	if _, err := k.Admin.RbacV1().Roles(namespace).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("testenv: create role %s/%s: %w", namespace, name, err)
	}
	return nil
}

// BindClusterRole grants a ClusterRole to subjects: in one namespace (a RoleBinding), or
// cluster-wide when namespace is "" (a ClusterRoleBinding). Bindings get generated names.
func (k *Kube) BindClusterRole(ctx context.Context, namespace, clusterRole string, subjects ...rbacv1.Subject) error {
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole}
	meta := metav1.ObjectMeta{GenerateName: clusterRole + "-"}
	var err error
	if namespace == "" {
		b := &rbacv1.ClusterRoleBinding{ObjectMeta: meta, RoleRef: ref, Subjects: subjects}
		_, err = k.Admin.RbacV1().ClusterRoleBindings().Create(ctx, b, metav1.CreateOptions{})
	} else {
		meta.Namespace = namespace
		b := &rbacv1.RoleBinding{ObjectMeta: meta, RoleRef: ref, Subjects: subjects}
		_, err = k.Admin.RbacV1().RoleBindings(namespace).Create(ctx, b, metav1.CreateOptions{})
	}
	if err != nil {
		return fmt.Errorf("testenv: bind clusterrole %s in %q: %w", clusterRole, namespace, err)
	}
	return nil
}

// BindRole grants the Role named role of namespace to subjects (a RoleBinding with a
// generated name).
func (k *Kube) BindRole(ctx context.Context, namespace, role string, subjects ...rbacv1.Subject) error {
	b := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{GenerateName: role + "-", Namespace: namespace},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role},
		Subjects:   subjects,
	}
	if _, err := k.Admin.RbacV1().RoleBindings(namespace).Create(ctx, b, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("testenv: bind role %s/%s: %w", namespace, role, err)
	}
	return nil
}

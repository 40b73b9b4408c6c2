/*
 * dlist: the intrusive doubly linked list the shell keeps its live objects
 * in (httpd's connections, upstream's requests, the server's exchanges).
 * A node is any struct with `next` and `prev` pointers to its own type; the
 * list is a head pointer. Header only; pure.
 */
#ifndef ANYCLAUDE_DLIST_H
#define ANYCLAUDE_DLIST_H

/* Put node first in the list at head. */
#define DLIST_PUSH(head, node)                                                                     \
    do {                                                                                           \
        (node)->prev = NULL;                                                                       \
        (node)->next = (head);                                                                     \
        if (head) (head)->prev = (node);                                                           \
        (head) = (node);                                                                           \
    } while (0)

/* Take node out of the list at head (its own pointers are left as they
 * were). */
#define DLIST_UNLINK(head, node)                                                                   \
    do {                                                                                           \
        if ((node)->prev)                                                                          \
            (node)->prev->next = (node)->next;                                                     \
        else                                                                                       \
            (head) = (node)->next;                                                                 \
        if ((node)->next) (node)->next->prev = (node)->prev;                                       \
    } while (0)

#endif
